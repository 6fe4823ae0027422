package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func indexCommand() *cli.Command {
	return &cli.Command{
		Name:  "index",
		Usage: "index de recherche / search index",
		Subcommands: []*cli.Command{
			leaf(&cli.Command{
				Name: "status", Usage: "retard de l'index sur le catalogue / how far the index is behind the catalog",
				Action: withIndexBackend(func(c *cli.Context, b backend) error {
					st, err := b.IndexStatus(c.Context)
					if err != nil {
						return err
					}
					w := c.App.Writer
					fmt.Fprintf(w, "moteur / engine:        %s\n", st.Engine)
					fmt.Fprintf(w, "ressources / resources: %d\n", st.Resources)
					fmt.Fprintf(w, "documents indexés:      %d\n", st.Documents)
					fmt.Fprintf(w, "en attente / backlog:   %d change(s)\n", st.Backlog)
					if st.RebuildPending {
						fmt.Fprintln(w, "reconstruction / rebuild: unfinished, resumes when the node runs")
					}
					if st.LastError != "" {
						fmt.Fprintf(w, "dernière erreur / last error: %s\n", st.LastError)
					}
					return nil
				}),
			}),
			leaf(&cli.Command{
				Name: "rebuild", Usage: "reconstruire l'index depuis le catalogue / recreate the index from the catalog",
				Action: withIndexBackend(func(c *cli.Context, b backend) error {
					bar := newProgressBar(c, -1, "index")
					err := b.RebuildIndex(c.Context, func(done, total int) {
						if bar != nil {
							bar.ChangeMax(total)
							_ = bar.Set(done)
						}
					})
					if bar != nil {
						_ = bar.Finish()
					}
					if err != nil {
						return err
					}
					st, err := b.IndexStatus(c.Context)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "Index reconstruit / index rebuilt: %d documents for %d resources (%s)\n", st.Documents, st.Resources, st.Engine)
					return nil
				}),
			}),
		},
	}
}
