package main

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/internal/bundle"
)

// maxKeyFile bounds the PEM file read by --key.
const maxKeyFile = 64 << 10

// bundleCommand checks signed bundles (a collection's zip) without a node:
// on a mediator's laptop, offline with the hub's public key.
func bundleCommand() *cli.Command {
	return &cli.Command{
		Name:  "bundle",
		Usage: "paquets signés (zip d'une collection) / signed bundles (a collection's zip)",
		Subcommands: []*cli.Command{{
			Name: "verify",
			Usage: "vérifier chaque fichier et la signature du hub, hors ligne avec --key / " +
				"check every file and the hub's signature, offline with --key",
			ArgsUsage: "FICHIER.zip|DOSSIER (--key CLE.pem | --actor URL)",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "key", Usage: "clé publique du hub (PEM), sans réseau / the hub's public key (PEM), no network"},
				&cli.StringFlag{Name: "actor", Usage: "URL de l'acteur du hub, dont la clé est lue en ligne / the hub's actor URL, whose key is fetched"},
				&cli.DurationFlag{Name: "timeout", Value: 15 * time.Second, Usage: "délai pour lire l'acteur / time to fetch the actor"},
			},
			Action: bundleVerify,
		}},
	}
}

func bundleVerify(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("usage: communs bundle verify FICHIER.zip|DOSSIER (--key CLE.pem | --actor URL)")
	}
	path := c.Args().First()
	out := c.App.Writer
	a, err := bundle.OpenPath(path)
	if err != nil {
		return failed(out, path, []bundle.Problem{asProblem(err)})
	}
	defer a.Close()
	m := a.Manifest()

	var pub *rsa.PublicKey
	var from string
	switch key, actor := c.String("key"), c.String("actor"); {
	case key != "" && actor != "":
		return errors.New("--key ou / or --actor, pas les deux / not both")
	case key != "":
		kf, err := os.Open(key)
		if err != nil {
			return fmt.Errorf("clé / key %s: %w", key, err)
		}
		data, err := io.ReadAll(io.LimitReader(kf, maxKeyFile))
		kf.Close()
		if err != nil {
			return fmt.Errorf("clé / key %s: %w", key, err)
		}
		if pub, err = bundle.ParsePublicKeyPEM(data); err != nil {
			return fmt.Errorf("clé / key %s: %w", key, err)
		}
		from = key
	case actor != "":
		ak, err := bundle.FetchActorKey(c.Context, nil, actor, c.Duration("timeout"))
		if err != nil {
			return fmt.Errorf("clé de l'acteur / actor's key: %w", err)
		}
		if ak.KeyID != m.KeyID {
			return failed(out, path, []bundle.Problem{{Path: bundle.SignatureName,
				FR: fmt.Sprintf("signé par la clé %q, mais l'acteur %q publie la clé %q", m.KeyID, ak.Actor, ak.KeyID),
				EN: fmt.Sprintf("signed by key %q, but actor %q publishes key %q", m.KeyID, ak.Actor, ak.KeyID)}})
		}
		pub, from = ak.Key, ak.KeyID
	default:
		return fmt.Errorf("indiquez la clé du hub : --key CLE.pem (hors ligne) ou --actor %s / "+
			"give the hub's key: --key KEY.pem (offline) or --actor %s (the manifest names key %s)",
			printable(actorURL(m.KeyID)), printable(actorURL(m.KeyID)), printable(m.KeyID))
	}

	rep := a.Verify(c.Context, pub)
	if !rep.OK() {
		return failed(out, path, rep.Problems)
	}
	fmt.Fprintf(out, "Paquet vérifié : %d fichiers intacts (%d octets), manifeste signé par la clé %s.\n", rep.Files, rep.Bytes, from)
	fmt.Fprintf(out, "Bundle verified: %d files intact (%d bytes), manifest signed by key %s.\n", rep.Files, rep.Bytes, from)
	if from != m.KeyID {
		fmt.Fprintf(out, "Clé nommée par le manifeste / key named by the manifest: %s\n", printable(m.KeyID))
	}
	fmt.Fprintf(out, "Hub : %s <%s>\n", printable(m.Hub.Name), printable(m.Hub.URL))
	if m.Title != "" {
		fmt.Fprintf(out, "Collection : %s <%s>\n", printable(m.Title), printable(m.URL))
	}
	fmt.Fprintf(out, "Version : %s\n", printable(m.Created))
	if ig := a.Ignored(); len(ig) > 0 {
		fmt.Fprintf(out, "Fichiers système laissés de côté / system files left aside: %d (%s)\n", len(ig), printable(strings.Join(ig[:min(len(ig), 5)], ", ")))
	}
	return nil
}

// failed prints each problem, French then English, and returns the error
// that makes the command exit non-zero.
func failed(out io.Writer, path string, ps []bundle.Problem) error {
	for _, p := range ps {
		where := printable(p.Path)
		if where == "" {
			where = path
		}
		fmt.Fprintf(out, "ÉCHEC  %s : %s\nFAILED %s: %s\n", where, p.FR, where, p.EN)
	}
	return fmt.Errorf("paquet NON vérifié (%d problème(s)) / bundle NOT verified (%d problem(s)): %s", len(ps), len(ps), path)
}

func asProblem(err error) bundle.Problem {
	var p *bundle.Problem
	if errors.As(err, &p) {
		return *p
	}
	return bundle.Problem{FR: err.Error(), EN: err.Error()}
}

func actorURL(keyID string) string {
	doc, _, _ := strings.Cut(keyID, "#")
	return doc
}

// printable keeps what a hostile zip names from writing escape sequences
// to the terminal: a text with a control character is shown quoted.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
