package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// globals are the flags accepted before or after the command name.
type globals struct {
	pd      string
	output  string
	hex     bool
	timeout time.Duration
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.pd, "pd", "127.0.0.1:2379", "comma-separated PD `endpoints`")
	fs.StringVar(&g.output, "o", "text", "output `format`: text or json")
	fs.BoolVar(&g.hex, "hex", false, "take and print keys and values as hex")
	fs.DurationVar(&g.timeout, "timeout", 30*time.Second, "deadline for the whole command")
}

// run is flarectl without the process: it parses args, runs one command
// and returns the exit code. Tests call it in-process.
func run(args []string, stdout, stderr io.Writer) int {
	var g globals
	fs := flag.NewFlagSet("flarectl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "flarectl: %v\n", err)
		usage(stderr, fs)
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 || rest[0] == "help" {
		w, code := stderr, exitUsage
		if len(rest) > 0 {
			w, code = stdout, exitOK
		}
		usage(w, fs)
		return code
	}
	cmd, cmdArgs := lookup(rest)
	if cmd == nil {
		fmt.Fprintf(stderr, "flarectl: unknown command %q\n", strings.Join(rest[:min(2, len(rest))], " "))
		usage(stderr, fs)
		return exitUsage
	}

	// Globals may also follow the command: register them on the command's
	// flag set too, which resets them to their defaults, then re-apply the
	// ones given before the command.
	given := map[string]string{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = f.Value.String() })
	cfs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	cfs.SetOutput(io.Discard)
	g.register(cfs)
	for name, v := range given {
		_ = cfs.Set(name, v) // parsed once already, cannot fail
	}
	runCmd := cmd.setup(cfs)
	pos, err := parseInterspersed(cfs, cmdArgs)
	if errors.Is(err, flag.ErrHelp) {
		cmdUsage(stdout, cmd, cfs)
		return exitOK
	}
	if err == nil {
		err = cmd.checkArgs(pos)
	}
	if err == nil && g.output != "text" && g.output != "json" {
		err = usagef("-o must be text or json, got %q", g.output)
	}
	if err != nil {
		fmt.Fprintf(stderr, "flarectl %s: %v\n", cmd.name, err)
		cmdUsage(stderr, cmd, cfs)
		return exitUsage
	}

	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	e := newEnv(ctx, g, stdout)
	defer e.close()
	if err := runCmd(e, pos); err != nil {
		fmt.Fprintf(stderr, "flarectl %s: %v\n", cmd.name, err)
		var ue *usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitError
	}
	return exitOK
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: flarectl [--pd ENDPOINTS] [-o text|json] [--hex] [--timeout D] <command> [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range sortedCommands() {
		fmt.Fprintf(w, "  %-48s %s\n", c.name+" "+c.args, c.summary)
	}
	fmt.Fprintln(w, "\nglobal flags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

func cmdUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: flarectl %s %s\n  %s\n\nflags:\n", c.name, c.args, c.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
