package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/web"
)

// shared says what a share command shares: a resource copy or a
// collection copy, through the admin socket's client or the service.
type shared struct {
	usage          string
	share          func(cl *web.Client, ctx context.Context, id string) (node.Share, error)
	unshare        func(cl *web.Client, ctx context.Context, id string) error
	serviceShare   func(svc *node.Service, ctx context.Context, id string) (node.Share, error)
	serviceUnshare func(svc *node.Service, ctx context.Context, id string) (node.Share, error)
}

// resourceShareCommand is `communs resource share ID [--undo]`: it shares
// a copy received from another hub with this hub's followers (an
// ActivityPub Announce), or takes the share back.
func resourceShareCommand() *cli.Command {
	return shareCommand(shared{
		usage:          "partager une copie reçue d'un autre hub avec les hubs abonnés / share a copy received from another hub with the following hubs",
		share:          (*web.Client).ShareResource,
		unshare:        (*web.Client).UnshareResource,
		serviceShare:   (*node.Service).ShareResource,
		serviceUnshare: (*node.Service).UnshareResource,
	})
}

// collectionShareCommand is `communs collection share ID [--undo]`: the
// same for a collection copy (an Announce of its origin id).
func collectionShareCommand() *cli.Command {
	return shareCommand(shared{
		usage:          "partager une collection reçue d'un autre hub avec les hubs abonnés / share a collection received from another hub with the following hubs",
		share:          (*web.Client).ShareCollection,
		unshare:        (*web.Client).UnshareCollection,
		serviceShare:   (*node.Service).ShareCollection,
		serviceUnshare: (*node.Service).UnshareCollection,
	})
}

// shareCommand goes through the running node's admin socket when it
// answers; else it works on the data folder, the Announce then leaving
// with the delivery queue when the node starts.
func shareCommand(k shared) *cli.Command {
	return leaf(&cli.Command{
		Name:      "share",
		Usage:     k.usage,
		ArgsUsage: "ID",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "undo", Usage: "annuler le partage / take the share back"}},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, "ID"); err != nil {
				return err
			}
			id, undo := c.Args().First(), c.Bool("undo")
			cfg, err := readConfig(c)
			if err != nil {
				return err
			}
			sock := filepath.Join(cfg.Data, socketName)
			if _, err := os.Stat(sock); err == nil {
				if cl := web.NewSocketClient(sock); cl.Ping(c.Context) == nil {
					if undo {
						if err := k.unshare(cl, c.Context, id); err != nil {
							return err
						}
						return printUnshared(c, id)
					}
					sh, err := k.share(cl, c.Context, id)
					if err != nil {
						return err
					}
					return printShared(c, id, sh.Object, sh.Activity)
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
			f, why, err := openFederation(cfg, svc, st, log) // sets the service's sharer
			if err != nil {
				return err
			}
			if f == nil {
				return fmt.Errorf("federation is off: %s", why)
			}
			if undo {
				if _, err := k.serviceUnshare(svc, c.Context, id); err != nil {
					return err
				}
				return printUnshared(c, id)
			}
			sh, err := k.serviceShare(svc, c.Context, id)
			if err != nil {
				return err
			}
			return printShared(c, id, sh.Object, sh.Activity)
		},
	})
}

func printShared(c *cli.Context, id, object, activity string) error {
	_, err := fmt.Fprintf(c.App.Writer, "partagé avec les hubs abonnés / shared with the following hubs: %s (%s, Announce %s)\n", id, object, activity)
	return err
}

func printUnshared(c *cli.Context, id string) error {
	_, err := fmt.Fprintf(c.App.Writer, "partage annulé / share taken back: %s\n", id)
	return err
}
