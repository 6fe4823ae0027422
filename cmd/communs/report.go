package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/node"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "lire et clore les signalements / read and close reports",
		Subcommands: []*cli.Command{
			leaf(&cli.Command{
				Name: "list", Usage: "lister les signalements / list reports",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "open", Usage: "seulement les ouverts / open reports only"}},
				Action: withBackend(func(c *cli.Context, b backend) error {
					rs, err := b.ListReports(c.Context, node.ReportFilter{OpenOnly: c.Bool("open")})
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tSTATE\tCREATED\tRESOURCE\tREASON\tFROM\tMESSAGE")
					for _, r := range rs {
						state := "open"
						if !r.Open() {
							state = "closed"
						}
						from := r.From
						if from == "" {
							from = "-"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, state, r.Created.Format(time.DateTime), oneLine(r.ResourceID, 40),
							r.Reason, oneLine(from, 60), oneLine(r.Message, 60))
					}
					return tw.Flush()
				}),
			}),
			leaf(&cli.Command{
				Name: "show", Usage: "afficher un signalement en JSON / show a report as JSON", ArgsUsage: "ID",
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "ID"); err != nil {
						return err
					}
					r, err := b.GetReport(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					enc := json.NewEncoder(c.App.Writer)
					enc.SetIndent("", "  ")
					return enc.Encode(r)
				}),
			}),
			leaf(&cli.Command{
				Name: "close", Usage: "clore un signalement / close a report", ArgsUsage: "ID",
				Flags: []cli.Flag{&cli.StringFlag{Name: "note", Usage: "note de clôture / closing note"}},
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "ID [--note TEXT]"); err != nil {
						return err
					}
					r, err := b.CloseReport(c.Context, c.Args().First(), c.String("note"))
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "Signalement %s clos / report closed.\n", r.ID)
					return nil
				}),
			}),
		},
	}
}

// oneLine fits text written by anonymous reporters on one table cell:
// line breaks and tabs become spaces, control characters are dropped
// (the domain refuses them already; this keeps the terminal safe from old
// records too), and long text is cut.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}
