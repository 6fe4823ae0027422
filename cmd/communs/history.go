package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

// resourceHistoryCommand prints a resource's revisions, newest first, with
// the account of each local change (the public API leaves it out).
func resourceHistoryCommand() *cli.Command {
	return leaf(&cli.Command{
		Name: "history", Usage: "historique d'une ressource / a resource's history", ArgsUsage: "ID",
		Action: withBackend(func(c *cli.Context, b backend) error {
			if err := needArgs(c, 1, "ID"); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tAT\tBY\tCHANGES")
			cursor := ""
			for {
				revs, next, err := b.History(c.Context, c.Args().First(), cursor, 100)
				if err != nil {
					return err
				}
				for _, r := range revs {
					by := r.By
					if by == "" {
						by = r.Hub // a copy's origin hub, or this hub's operator
					}
					var changes []string
					if r.Created {
						changes = append(changes, "created")
					}
					for _, f := range r.Fields {
						changes = append(changes, f.Field)
					}
					for _, f := range r.Files {
						changes = append(changes, f.Change+" "+f.Name)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.Version, r.At.Format(time.DateTime), oneLine(by, 40), oneLine(strings.Join(changes, ", "), 120))
				}
				if next == "" {
					break
				}
				cursor = next
			}
			return tw.Flush()
		}),
	})
}
