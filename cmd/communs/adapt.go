package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// AdaptResource adapts with the source's public address built from
// --public-url (the running node's admin socket builds it the same way).
func (l localBackend) AdaptResource(ctx context.Context, id string, opt node.AdaptOptions) (node.Resource, error) {
	opt.SourceURL = paths.Base(l.publicURL).Resource(id)
	return l.Adapt(ctx, id, opt)
}

// resourceAdaptCommand is `communs resource adapt ID [--title T] [--org SLUG]`.
func resourceAdaptCommand() *cli.Command {
	return leaf(&cli.Command{
		Name:      "adapt",
		Usage:     "adapter une ressource en une nouvelle ressource locale, sa source citée / adapt a resource into a new local one that credits its source",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "title", Usage: "titre de l'adaptation / the adaptation's title (default: the source's)"},
			&cli.StringFlag{Name: "org", Usage: "organisation qui possède l'adaptation / the organisation owning the adaptation"},
		},
		Action: withBackend(func(c *cli.Context, b backend) error {
			if err := needArgs(c, 1, "ID [--title T] [--org SLUG]"); err != nil {
				return err
			}
			r, err := b.AdaptResource(c.Context, c.Args().First(), node.AdaptOptions{Title: c.String("title"), Organisation: c.String("org")})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "adapted %s -> %s (%s, %d files)\n", c.Args().First(), r.ID, r.License, len(r.Files))
			return nil
		}),
	})
}
