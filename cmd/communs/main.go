// Command communs runs a Communs node and administers it.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newApp() *cli.App {
	return &cli.App{
		Name:    "communs",
		Usage:   "nœud de partage de ressources sous licence ouverte entre hubs / open resource sharing node",
		Version: version,
		Commands: []*cli.Command{
			serveCommand(),
			userCommand(),
			tokenCommand(),
			resourceCommand(),
			orgCommand(),
			collectionCommand(),
			reportCommand(),
			indexCommand(),
			peerCommand(),
			backupCommand(),
			storageCommand(),
			doctorCommand(),
			restoreCommand(),
			bundleCommand(),
		},
	}
}

func main() {
	if err := newApp().Run(interspersed(newApp(), os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "erreur / error:", err)
		os.Exit(1)
	}
}
