package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves the flags that follow a command's arguments in front
// of them. urfave/cli v2 stops reading flags at the first argument, yet
// admins naturally type `communs user add marie --role editor`; without
// this, --role would silently become a second argument.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	cmds := app.Commands
	i := 1
	var leafCmd *cli.Command
	for i < len(args) {
		c := findCommand(cmds, args[i])
		if c == nil {
			break
		}
		out = append(out, args[i])
		i++
		if len(c.Subcommands) == 0 {
			leafCmd = c
			break
		}
		cmds = c.Subcommands
	}
	if leafCmd == nil {
		return args
	}
	var flags, positional []string
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		if !strings.Contains(a, "=") && takesValue(leafCmd, strings.TrimLeft(a, "-")) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	out = append(out, flags...)
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func takesValue(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if v, ok := f.(interface{ TakesValue() bool }); ok {
				return v.TakesValue()
			}
			return true
		}
	}
	return false
}
