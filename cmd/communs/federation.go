package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/internal/app"
)

// openFederation is the node's ActivityPub side, or nil with the reason
// it is off (see app.OpenFederation).
var openFederation = app.OpenFederation

// peerAdmin reaches federation through the running node, or opens the data
// folder; a follow made without a node is delivered when it starts.
func withPeerAdmin(fn func(c *cli.Context, a federation.Admin) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		cfg, err := readConfig(c)
		if err != nil {
			return err
		}
		sock := filepath.Join(cfg.Data, socketName)
		if _, err := os.Stat(sock); err == nil {
			if a := federation.NewAdminClient(sock); pingPeers(c, a) == nil {
				return fn(c, a)
			}
		}
		log, err := app.NewLogger(cfg)
		if err != nil {
			return err
		}
		svc, st, err := app.OpenService(c.Context, cfg, log, false)
		if err != nil {
			return err
		}
		defer st.Close()
		f, why, err := openFederation(cfg, svc, st, log)
		if err != nil {
			return err
		}
		if f == nil {
			return fmt.Errorf("federation is off: %s", why)
		}
		return fn(c, f)
	}
}

func pingPeers(c *cli.Context, a *federation.AdminClient) error {
	_, err := a.Report(c.Context)
	return err
}

func peerCommand() *cli.Command {
	target := func(c *cli.Context, what string) (string, error) {
		if c.NArg() != 1 {
			return "", fmt.Errorf("usage: communs %s %s", c.Command.FullName(), what)
		}
		return c.Args().First(), nil
	}
	return &cli.Command{
		Name:  "peer",
		Usage: "hubs fédérés / federated hubs",
		Subcommands: []*cli.Command{
			leaf(&cli.Command{
				Name: "self", Usage: "afficher l'identifiant de ce hub à partager / print this hub's handle and actor URL",
				Action: withPeerAdmin(func(c *cli.Context, a federation.Admin) error {
					rep, err := a.Report(c.Context)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "@%s\n%s\n", rep.Handle, rep.Actor)
					return nil
				}),
			}),
			leaf(&cli.Command{
				Name: "follow", Usage: "suivre un hub / follow a hub (a.example, hub@a.example or an actor URL)", ArgsUsage: "HUB",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "mirror", Value: "none", Usage: "none (downloads go to the origin) or files (copy and verify its files here)"},
					&cli.StringFlag{Name: "mirror-max-size", Usage: "with --mirror files, do not copy files larger than this (e.g. 500MB)"},
				},
				Action: withPeerAdmin(func(c *cli.Context, a federation.Admin) error {
					t, err := target(c, "HUB [--mirror none|files] [--mirror-max-size 500MB]")
					if err != nil {
						return err
					}
					var max int64
					if s := c.String("mirror-max-size"); s != "" {
						if max, err = parseSize(s); err != nil {
							return fmt.Errorf("--mirror-max-size: %w", err)
						}
					}
					p, err := a.Follow(c.Context, t, federation.FollowOptions{Mirror: c.String("mirror"), MirrorMaxSize: max})
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "Demande envoyée à %s (%s) ; ses ressources arrivent dès qu'il accepte.\nFollow sent to %s; its resources arrive once it accepts.\n", p.Handle, p.ActorID, p.Handle)
					return nil
				}),
			}),
			leaf(&cli.Command{
				Name: "unfollow", Usage: "ne plus suivre un hub et retirer ses ressources / unfollow a hub and drop its resources", ArgsUsage: "HUB",
				Action: withPeerAdmin(func(c *cli.Context, a federation.Admin) error {
					t, err := target(c, "HUB")
					if err != nil {
						return err
					}
					if err := a.Unfollow(c.Context, t); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "%s n'est plus suivi / unfollowed\n", t)
					return nil
				}),
			}),
			leaf(&cli.Command{
				Name: "list", Usage: "hubs suivis et abonnés / following, followers, delivery state",
				Action: withPeerAdmin(func(c *cli.Context, a federation.Admin) error {
					rep, err := a.Report(c.Context)
					if err != nil {
						return err
					}
					w := c.App.Writer
					fmt.Fprintf(w, "Ce hub / this hub: @%s (%s), %d delivery(ies) waiting\n", rep.Handle, rep.Actor, rep.Backlog)
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "PEER\tFOLLOWING\tFOLLOWER\tMIRROR\tLAST DELIVERY\tFAILURES\tLAST ERROR")
					for _, p := range rep.Peers {
						last := "-"
						if !p.LastDelivery.IsZero() {
							last = p.LastDelivery.Local().Format(time.DateTime)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", p.Handle, dash(p.Following), dash(p.Follower), dash(p.Mirror), last, p.Failures, dash(p.LastError))
					}
					if err := tw.Flush(); err != nil {
						return err
					}
					if len(rep.Blocks) > 0 {
						fmt.Fprintf(w, "Bloqués / blocked: %s\n", strings.Join(rep.Blocks, ", "))
					}
					for _, d := range rep.Drops {
						fmt.Fprintf(w, "Copie retirée / dropped copy: %s\t%s\t%s\n", d.ID, d.Origin, d.Title)
					}
					return nil
				}),
			}),
			leaf(&cli.Command{
				Name: "requests", Usage: "demandes d'abonnement en attente / pending follow requests",
				Action: withPeerAdmin(func(c *cli.Context, a federation.Admin) error {
					rep, err := a.Report(c.Context)
					if err != nil {
						return err
					}
					n := 0
					for _, p := range rep.Peers {
						if p.Follower == "pending" {
							fmt.Fprintf(c.App.Writer, "%s\t%s\n", p.Handle, p.ActorID)
							n++
						}
					}
					if n == 0 {
						fmt.Fprintln(c.App.Writer, "Aucune demande en attente / no pending request")
					}
					return nil
				}),
			}),
			answerCommand("accept", "accepter une demande / accept a follow request", true),
			answerCommand("reject", "refuser une demande / reject a follow request", false),
			leaf(&cli.Command{
				Name: "block", Usage: "bloquer un domaine et retirer ses ressources / block a domain and drop its resources", ArgsUsage: "DOMAIN",
				Action: withPeerAdmin(func(c *cli.Context, a federation.Admin) error {
					d, err := target(c, "DOMAIN")
					if err != nil {
						return err
					}
					n, err := a.Block(c.Context, d)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "%s bloqué, %d ressource(s) retirée(s) / blocked, %d resource(s) removed\n", d, n, n)
					return nil
				}),
			}),
			leaf(&cli.Command{
				Name: "drop", Usage: "retirer pour de bon la copie d'une ressource d'un autre hub / drop a copy for good (its origin's updates no longer bring it back)", ArgsUsage: "ID",
				Action: withPeerAdmin(func(c *cli.Context, a federation.Admin) error {
					id, err := target(c, "ID")
					if err != nil {
						return err
					}
					d, err := a.Drop(c.Context, id)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "Copie %s retirée ; %s ne la remettra pas (communs peer undrop %s pour l'accepter à nouveau)\nCopy %s dropped; its origin %s will not bring it back (communs peer undrop %s to accept it again)\n", d.ID, d.Origin, d.ID, d.ID, d.Origin, d.ID)
					return nil
				}),
			}),
			leaf(&cli.Command{
				Name: "undrop", Usage: "accepter à nouveau une copie retirée / accept a dropped copy again (it returns with its origin's next update)", ArgsUsage: "ID|ORIGIN",
				Action: withPeerAdmin(func(c *cli.Context, a federation.Admin) error {
					t, err := target(c, "ID|ORIGIN")
					if err != nil {
						return err
					}
					d, err := a.Undrop(c.Context, t)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "%s accepté à nouveau ; la copie revient avec la prochaine mise à jour de l'origine\n%s accepted again; the copy returns with its origin's next update\n", d.ID, d.ID)
					return nil
				}),
			}),
			leaf(&cli.Command{
				Name: "unblock", Usage: "débloquer un domaine / unblock a domain", ArgsUsage: "DOMAIN",
				Action: withPeerAdmin(func(c *cli.Context, a federation.Admin) error {
					d, err := target(c, "DOMAIN")
					if err != nil {
						return err
					}
					if err := a.Unblock(c.Context, d); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "%s débloqué / unblocked\n", d)
					return nil
				}),
			}),
		},
	}
}

func answerCommand(name, usage string, accept bool) *cli.Command {
	return leaf(&cli.Command{
		Name: name, Usage: usage, ArgsUsage: "PEER",
		Action: withPeerAdmin(func(c *cli.Context, a federation.Admin) error {
			if c.NArg() != 1 {
				return fmt.Errorf("usage: communs peer %s PEER (see communs peer requests)", name)
			}
			if err := a.Answer(c.Context, c.Args().First(), accept); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s: %s\n", c.Args().First(), name)
			return nil
		}),
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
