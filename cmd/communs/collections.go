package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/node"
)

// itemFlag collects --item values verbatim, one per occurrence: a note may
// hold commas, which a StringSliceFlag would split.
type itemFlag struct{ items []node.CollectionItem }

// Set reads "ID" or "ID:note" (ids hold no colon).
func (f *itemFlag) Set(v string) error {
	id, note, _ := strings.Cut(v, ":")
	id = strings.TrimSpace(id)
	if err := node.ValidateID(id); err != nil {
		return fmt.Errorf("--item %q: give ID or ID:note, ID being a resource id (communs resource list)", v)
	}
	f.items = append(f.items, node.CollectionItem{Resource: id, Note: strings.TrimSpace(note)})
	return nil
}

func (f *itemFlag) String() string {
	var parts []string
	for _, it := range f.items {
		parts = append(parts, it.Resource)
	}
	return strings.Join(parts, " ")
}

// collectionCommand manages the hub's collections.
func collectionCommand() *cli.Command {
	return &cli.Command{
		Name:  "collection",
		Usage: "gérer les collections de ressources / manage collections of resources",
		Subcommands: []*cli.Command{
			collectionAddCommand(),
			collectionShareCommand(),
			leaf(&cli.Command{
				Name: "list", Usage: "lister les collections, les plus récentes d'abord / list collections, newest first",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "origin", Usage: "local ou remote / local or remote"},
					&cli.StringFlag{Name: "org", Usage: "les collections d'une organisation / one organisation's collections"},
				},
				Action: withBackend(func(c *cli.Context, b backend) error {
					q := node.ListCollectionsQuery{Origin: c.String("origin"), Organisation: c.String("org"), Limit: 100}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tITEMS\tORGANISATION\tHUB\tTITLE")
					for {
						cs, total, err := b.ListCollections(c.Context, q)
						if err != nil {
							return err
						}
						for _, col := range cs {
							fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", col.ID, len(col.Items), col.Organisation, col.Hub, col.Title)
						}
						q.Offset += len(cs)
						if len(cs) == 0 || q.Offset >= total {
							return tw.Flush()
						}
					}
				}),
			}),
			leaf(&cli.Command{
				Name: "show", Usage: "afficher une collection en JSON / show a collection as JSON", ArgsUsage: "ID",
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "ID"); err != nil {
						return err
					}
					col, err := b.GetCollection(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					enc := json.NewEncoder(c.App.Writer)
					enc.SetIndent("", "  ")
					return enc.Encode(col)
				}),
			}),
			leaf(&cli.Command{
				Name: "rm", Usage: "supprimer une collection (pas ses ressources) / delete a collection (not its resources)", ArgsUsage: "ID",
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "ID"); err != nil {
						return err
					}
					if err := b.DeleteCollection(c.Context, c.Args().First()); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "Collection %s supprimée / collection deleted\n", c.Args().First())
					return nil
				}),
			}),
		},
	}
}

func collectionAddCommand() *cli.Command {
	items := &itemFlag{}
	return leafOwnFlags(&cli.Command{
		Name: "add", Usage: "composer une collection / put a collection together",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "title", Required: true, Usage: "titre / title"},
			&cli.StringFlag{Name: "summary", Usage: "résumé / summary"},
			&cli.StringFlag{Name: "description", Usage: "description (Markdown)"},
			&cli.StringFlag{Name: "id", Usage: "identifiant, sinon tiré du titre / id, else from the title"},
			&cli.StringFlag{Name: "org", Usage: "organisation propriétaire / owning organisation"},
			&cli.GenericFlag{Name: "item", Value: items, Usage: "ressource, dans l'ordre, répétable / resource, in order, repeatable: ID or ID:note"},
		},
		Action: withBackend(func(c *cli.Context, b backend) error {
			if err := needArgs(c, 0, "--title TITLE --item ID[:note] [--item ...]"); err != nil {
				return err
			}
			col, err := b.CreateCollection(c.Context, node.Collection{ID: c.String("id"), Title: c.String("title"),
				Summary: c.String("summary"), Description: c.String("description"), Organisation: c.String("org"), Items: items.items})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Collection %s créée, %d ressource(s) / collection added, %d resource(s)\n", col.ID, len(col.Items), len(col.Items))
			return nil
		}),
	})
}
