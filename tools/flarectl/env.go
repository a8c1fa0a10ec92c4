package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flaredb/flaredb/libs/client"
)

// env is what a running command uses: its context, the client (connected
// on first use, so usage errors never wait on PD) and the output.
type env struct {
	ctx    context.Context
	g      globals
	w      io.Writer
	client *client.Client
}

func newEnv(ctx context.Context, g globals, w io.Writer) *env {
	return &env{ctx: ctx, g: g, w: w}
}

// Client connects to PD on first use.
func (e *env) Client() (*client.Client, error) {
	if e.client != nil {
		return e.client, nil
	}
	var endpoints []string
	for _, ep := range strings.Split(e.g.pd, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			endpoints = append(endpoints, ep)
		}
	}
	c, err := client.New(e.ctx, client.Config{PDEndpoints: endpoints})
	if err != nil {
		return nil, err
	}
	e.client = c
	return c, nil
}

func (e *env) close() {
	if e.client != nil {
		_ = e.client.Close()
	}
}

func (e *env) json() bool { return e.g.output == "json" }

// arg decodes a key or value argument: hex with --hex, else the bytes as
// typed. Bad hex is a usage error.
func (e *env) arg(name, s string) ([]byte, error) {
	if !e.g.hex {
		return []byte(s), nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, usagef("%s %q is not valid hex: %v", name, s, err)
	}
	return b, nil
}

// jsonBytes is a key or value in JSON output: a hex string with --hex, else
// the bytes as a string (use --hex for binary data; invalid UTF-8 would be
// mangled by JSON). nil stays null.
func (e *env) jsonBytes(b []byte) any {
	if b == nil {
		return nil
	}
	if e.g.hex {
		return hex.EncodeToString(b)
	}
	return string(b)
}

// textBytes is a key or value in text output: hex with --hex; else as is
// when that is unambiguous in "name=value" lists, else Go-quoted.
func (e *env) textBytes(b []byte) string {
	if e.g.hex {
		return hex.EncodeToString(b)
	}
	s := string(b)
	if s == "" || !utf8.ValidString(s) || strings.ContainsAny(s, " \t\n\"=\\") || strconv.Quote(s) != `"`+s+`"` {
		return strconv.Quote(s)
	}
	return s
}

// emit writes one result: obj as one JSON line with -o json, else text.
// obj must marshal with stable field names (a struct with json tags or an
// ordered type), so output never depends on map order.
func (e *env) emit(obj any, text string) error {
	if e.json() {
		b, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		_, err = fmt.Fprintf(e.w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(e.w, text)
	return err
}
