package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/web"
)

// collectionShareCommand is `communs collection share ID [--undo]`: it
// shares a collection copy received from another hub with this hub's
// followers (an ActivityPub Announce of its origin id), or takes the share
// back. Through the running node's admin socket when it answers; else on
// the data folder, the Announce then leaving with the delivery queue when
// the node starts.
func collectionShareCommand() *cli.Command {
	return leaf(&cli.Command{
		Name:      "share",
		Usage:     "partager une collection reçue d'un autre hub avec les hubs abonnés / share a collection received from another hub with the following hubs",
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
						if err := cl.UnshareCollection(c.Context, id); err != nil {
							return err
						}
						return printUnshared(c, id)
					}
					sh, err := cl.ShareCollection(c.Context, id)
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
				if _, err := svc.UnshareCollection(c.Context, id); err != nil {
					return err
				}
				return printUnshared(c, id)
			}
			sh, err := svc.ShareCollection(c.Context, id)
			if err != nil {
				return err
			}
			return printShared(c, id, sh.Object, sh.Activity)
		},
	})
}
