package main

import (
	"errors"
	"flag"
	"fmt"
	"sort"
)

// command is one flarectl command. Names may be two words ("region
// add-peer") for command groups.
type command struct {
	name    string
	args    string // positional arguments for usage, e.g. "KEY VALUE"
	summary string
	minArgs int
	maxArgs int
	// setup registers the command's flags and returns the function that
	// runs it; the function sees the flags' values through its closure.
	setup func(fs *flag.FlagSet) runFunc
}

// runFunc runs a command with its positional arguments.
type runFunc func(e *env, args []string) error

// commands is the registry; files add to it from init.
var commands = map[string]*command{}

// register adds c to the registry; a duplicate name is a programming error.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("flarectl: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// lookup finds the command named by the first one or two words of args and
// returns it with the remaining arguments.
func lookup(args []string) (*command, []string) {
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c, args[2:]
		}
	}
	if c, ok := commands[args[0]]; ok {
		return c, args[1:]
	}
	return nil, nil
}

func sortedCommands() []*command {
	out := make([]*command, 0, len(commands))
	for _, c := range commands {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (c *command) checkArgs(pos []string) error {
	if len(pos) < c.minArgs || len(pos) > c.maxArgs {
		if c.minArgs == c.maxArgs {
			return usagef("want %d argument(s) (%s), got %d", c.minArgs, c.args, len(pos))
		}
		return usagef("want %d to %d arguments (%s), got %d", c.minArgs, c.maxArgs, c.args, len(pos))
	}
	return nil
}

// parseInterspersed parses flags that may appear before, between or after
// positional arguments ("scan a z --limit 5"); everything after "--" is
// positional, which is how a key starting with "-" is given.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// usageError is a mistake in the command line; it exits with code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}
