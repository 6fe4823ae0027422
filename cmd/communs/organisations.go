package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/node"
)

// orgCommand manages the hub's member organisations.
func orgCommand() *cli.Command {
	return &cli.Command{
		Name:  "org",
		Usage: "gérer les organisations membres du hub / manage the hub's member organisations",
		Subcommands: []*cli.Command{
			leafOwnFlags(&cli.Command{
				Name: "add", Usage: "ajouter une organisation / add an organisation", ArgsUsage: "SLUG",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Required: true, Usage: "nom affiché / display name, e.g. \"Centre social Les Tilleuls\""},
					&cli.StringFlag{Name: "url", Usage: "site web de l'organisation / its web site"},
					&cli.StringFlag{Name: "description", Usage: "présentation courte / short presentation"},
				},
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "SLUG --name NAME [--url URL] [--description TEXT]"); err != nil {
						return err
					}
					o, err := b.AddOrganisation(c.Context, node.Organisation{Slug: c.Args().First(), Name: c.String("name"),
						URL: c.String("url"), Description: c.String("description")})
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "Organisation %s créée / organisation added: %s\n", o.Slug, o.Name)
					return nil
				}),
			}),
			leaf(&cli.Command{
				Name: "list", Usage: "lister les organisations / list organisations",
				Action: withBackend(func(c *cli.Context, b backend) error {
					os, err := b.Organisations(c.Context)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "SLUG\tRESOURCES\tNAME")
					for _, o := range os {
						_, n, err := b.OrganisationResources(c.Context, o.Slug, 0)
						if err != nil {
							return err
						}
						fmt.Fprintf(tw, "%s\t%d\t%s\n", o.Slug, n, o.Name)
					}
					return tw.Flush()
				}),
			}),
			leaf(&cli.Command{
				Name: "show", Usage: "afficher une organisation en JSON / show an organisation as JSON", ArgsUsage: "SLUG",
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "SLUG"); err != nil {
						return err
					}
					o, err := b.Organisation(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					_, n, err := b.OrganisationResources(c.Context, o.Slug, 0)
					if err != nil {
						return err
					}
					enc := json.NewEncoder(c.App.Writer)
					enc.SetIndent("", "  ")
					return enc.Encode(struct {
						node.Organisation
						Resources int `json:"resource_count"`
					}{o, n})
				}),
			}),
			leaf(&cli.Command{
				Name: "rm", Usage: "supprimer une organisation qui ne possède plus rien / remove an organisation that owns nothing", ArgsUsage: "SLUG",
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "SLUG"); err != nil {
						return err
					}
					if err := b.RemoveOrganisation(c.Context, c.Args().First()); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "Organisation %s supprimée / organisation removed\n", c.Args().First())
					return nil
				}),
			}),
		},
	}
}

// leafOwnFlags is leaf for a command whose own flags reuse names of node
// flags (org add --name is the organisation's, not the hub's): those node
// flags are left out of it.
func leafOwnFlags(cmd *cli.Command) *cli.Command {
	own := map[string]bool{}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			own[n] = true
		}
	}
	var flags []cli.Flag
	for _, f := range nodeFlags() {
		clash := false
		for _, n := range f.Names() {
			clash = clash || own[n]
		}
		if !clash {
			flags = append(flags, f)
		}
	}
	cmd.Flags = append(flags, cmd.Flags...)
	cmd.Before = loadConfigFile(cmd.Flags)
	return cmd
}

// userSetCommand changes an account: for now, its organisation.
func userSetCommand() *cli.Command {
	return leaf(&cli.Command{
		Name: "set", Usage: "rattacher un compte à une organisation / attach a user to an organisation", ArgsUsage: "NAME",
		Flags: []cli.Flag{&cli.StringFlag{Name: "org", Required: true, Usage: "slug de l'organisation, \"\" pour aucune / organisation slug, \"\" for none"}},
		Action: withBackend(func(c *cli.Context, b backend) error {
			if err := needArgs(c, 1, "NAME --org SLUG"); err != nil {
				return err
			}
			if err := b.SetUserOrganisation(c.Context, c.Args().First(), c.String("org")); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Compte %s rattaché à %q / user attached to %q\n", c.Args().First(), c.String("org"), c.String("org"))
			return nil
		}),
	})
}

// resourceSetCommand gives a resource to an organisation (admins assign
// the resources published before organisations existed).
func resourceSetCommand() *cli.Command {
	return leaf(&cli.Command{
		Name: "set", Usage: "confier une ressource à une organisation / give a resource to an organisation", ArgsUsage: "ID",
		Flags: []cli.Flag{&cli.StringFlag{Name: "org", Required: true, Usage: "slug de l'organisation, \"\" pour aucune / organisation slug, \"\" for none"}},
		Action: withBackend(func(c *cli.Context, b backend) error {
			if err := needArgs(c, 1, "ID --org SLUG"); err != nil {
				return err
			}
			org := c.String("org")
			r, err := b.Update(c.Context, c.Args().First(), node.Patch{Organisation: &org})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Ressource %s confiée à %q / resource given to %q\n", r.ID, r.Organisation, r.Organisation)
			return nil
		}),
	})
}
