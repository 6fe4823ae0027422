package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
	"github.com/communs-numerique/communs/storage/search/embedded"
	"github.com/communs-numerique/communs/storage/search/meili"
)

// openIndex opens the configured search engine. A Meilisearch server that is
// down does not stop the node: the index reconnects when it is back, and
// until then searches answer 503 while browsing works.
func openIndex(cfg config) (node.Index, string, error) {
	switch cfg.Search {
	case "meilisearch":
		mc := cfg.Meili
		idx := search.NewReconnecting(func(ctx context.Context) (node.Index, error) {
			return meili.Open(ctx, mc)
		}, 5*time.Second)
		return idx, "meilisearch " + mc.URL + " index " + mc.Index, nil
	default:
		dir := filepath.Join(cfg.Data, "search")
		idx, err := embedded.Open(dir)
		if err != nil {
			return nil, "", fmt.Errorf("open the search index in %s: %w", dir, err)
		}
		return idx, "embedded " + dir, nil
	}
}

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
