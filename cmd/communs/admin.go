package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/internal/kit"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/catalog"
	"github.com/communs-numerique/communs/web"
)

// backend is what the admin commands need. Two implementations: the
// service on directly opened stores, or the running node's admin socket.
type backend interface {
	kit.Backend
	List(ctx context.Context, opt node.ListOptions) ([]node.Resource, string, error)
	Delete(ctx context.Context, id string) error
	AddUser(ctx context.Context, name, role string) (node.User, string, error)
	ListUsers(ctx context.Context) ([]node.User, error)
	RemoveUser(ctx context.Context, name string) error
	NewToken(ctx context.Context, name string) (string, error)
	SetPassword(ctx context.Context, name, password string) error
	IndexStatus(ctx context.Context) (node.IndexStatus, error)
	RebuildIndex(ctx context.Context, progress func(done, total int)) error
	Update(ctx context.Context, id string, p node.Patch) (node.Resource, error)
	AddOrganisation(ctx context.Context, o node.Organisation) (node.Organisation, error)
	Organisations(ctx context.Context) ([]node.Organisation, error)
	Organisation(ctx context.Context, slug string) (node.Organisation, error)
	OrganisationResources(ctx context.Context, slug string, limit int) ([]node.Resource, int, error)
	RemoveOrganisation(ctx context.Context, slug string) error
	SetUserOrganisation(ctx context.Context, name, slug string) error
	ListReports(ctx context.Context, f node.ReportFilter) ([]node.Report, error)
	GetReport(ctx context.Context, id string) (node.Report, error)
	CloseReport(ctx context.Context, id, note string) (node.Report, error)
	CreateCollection(ctx context.Context, c node.Collection) (node.Collection, error)
	GetCollection(ctx context.Context, id string) (node.Collection, error)
	ListCollections(ctx context.Context, q node.ListCollectionsQuery) ([]node.Collection, int, error)
	DeleteCollection(ctx context.Context, id string) error
	Close() error
}

type localBackend struct {
	*node.Service
	st *stores
}

func (l localBackend) Close() error { return l.st.Close() }

func (l localBackend) IndexStatus(ctx context.Context) (node.IndexStatus, error) {
	if l.st.Indexer == nil {
		return node.IndexStatus{}, errors.New("the search index was not opened for this command")
	}
	return l.st.Indexer.Status(ctx)
}

func (l localBackend) RebuildIndex(ctx context.Context, progress func(done, total int)) error {
	if l.st.Indexer == nil {
		return errors.New("the search index was not opened for this command")
	}
	return l.st.Indexer.Rebuild(ctx, progress)
}

// openBackend reaches the running node through its admin socket when it
// answers, else opens the stores directly. The user never has to care.
func openBackend(c *cli.Context, withIndex bool) (backend, error) {
	cfg, err := readConfig(c)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(cfg.Data, socketName)
	if _, err := os.Stat(sock); err == nil {
		cl := web.NewSocketClient(sock)
		if err := cl.Ping(c.Context); err == nil {
			return cl, nil
		}
	}
	log, err := app.NewLogger(cfg)
	if err != nil {
		return nil, err
	}
	svc, st, err := app.OpenService(c.Context, cfg, log, withIndex)
	if err != nil {
		if errors.Is(err, catalog.ErrLocked) {
			return nil, fmt.Errorf("%w; its admin socket %s does not answer: check that the node is healthy", err, sock)
		}
		return nil, err
	}
	return localBackend{Service: svc, st: st}, nil
}

// leaf gives an admin command the node flags and the config file.
func leaf(cmd *cli.Command) *cli.Command {
	cmd.Flags = append(nodeFlags(), cmd.Flags...)
	cmd.Before = loadConfigFile(cmd.Flags)
	return cmd
}

func withBackend(fn func(c *cli.Context, b backend) error) cli.ActionFunc {
	return backendAction(false, fn)
}

// withIndexBackend is withBackend for commands that need the search index
// when no node runs.
func withIndexBackend(fn func(c *cli.Context, b backend) error) cli.ActionFunc {
	return backendAction(true, fn)
}

func backendAction(withIndex bool, fn func(c *cli.Context, b backend) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		b, err := openBackend(c, withIndex)
		if err != nil {
			return err
		}
		defer b.Close()
		return fn(c, b)
	}
}

func needArgs(c *cli.Context, n int, usage string) error {
	if c.NArg() != n {
		return fmt.Errorf("usage: communs %s %s", c.Command.FullName(), usage)
	}
	return nil
}

func userCommand() *cli.Command {
	return &cli.Command{
		Name:  "user",
		Usage: "gérer les comptes / manage users",
		Subcommands: []*cli.Command{
			leaf(&cli.Command{
				Name: "add", Usage: "créer un compte et afficher son jeton d'API / add a user, print its API token", ArgsUsage: "NAME",
				Flags: []cli.Flag{&cli.StringFlag{Name: "role", Value: node.RoleEditor, Usage: "admin or editor"},
					&cli.StringFlag{Name: "org", Usage: "organisation du compte (communs org list) / the user's organisation"}},
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "NAME --role admin|editor [--org SLUG]"); err != nil {
						return err
					}
					org := c.String("org")
					if org != "" { // refuse before creating the account
						if _, err := b.Organisation(c.Context, org); err != nil {
							return fmt.Errorf("--org: %w", err)
						}
					}
					u, tok, err := b.AddUser(c.Context, c.Args().First(), c.String("role"))
					if err != nil {
						return err
					}
					if org != "" {
						if err := b.SetUserOrganisation(c.Context, u.Name, org); err != nil {
							return err
						}
						fmt.Fprintf(c.App.Writer, "Organisation / organisation: %s\n", org)
					}
					fmt.Fprintf(c.App.Writer, "Compte %s créé (rôle %s). Jeton d'API, affiché une seule fois / API token, shown once:\n%s\n", u.Name, u.Role, tok)
					return nil
				}),
			}),
			leaf(&cli.Command{
				Name: "list", Usage: "lister les comptes / list users",
				Action: withBackend(func(c *cli.Context, b backend) error {
					us, err := b.ListUsers(c.Context)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tROLE\tORGANISATION\tCREATED")
					for _, u := range us {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Organisation, u.Created.Format("2006-01-02 15:04"))
					}
					return tw.Flush()
				}),
			}),
			userSetCommand(),
			leaf(&cli.Command{
				Name: "rm", Usage: "supprimer un compte et ses jetons / remove a user and their tokens", ArgsUsage: "NAME",
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "NAME"); err != nil {
						return err
					}
					if err := b.RemoveUser(c.Context, c.Args().First()); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "Compte %s supprimé / user removed\n", c.Args().First())
					return nil
				}),
			}),
			leaf(&cli.Command{
				Name: "passwd", Usage: "définir le mot de passe web / set the web password (read from the terminal or stdin)", ArgsUsage: "NAME",
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "NAME"); err != nil {
						return err
					}
					pw, err := readPassword(c.App.Writer)
					if err != nil {
						return err
					}
					if err := b.SetPassword(c.Context, c.Args().First(), pw); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "Mot de passe de %s enregistré / password set\n", c.Args().First())
					return nil
				}),
			}),
		},
	}
}

func readPassword(w io.Writer) (string, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fmt.Fprint(w, "Mot de passe / password: ")
	a, err := term.ReadPassword(fd)
	fmt.Fprintln(w)
	if err != nil {
		return "", err
	}
	fmt.Fprint(w, "Encore une fois / again: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(w)
	if err != nil {
		return "", err
	}
	if string(a) != string(b) {
		return "", errors.New("the two passwords differ")
	}
	return string(a), nil
}

func tokenCommand() *cli.Command {
	return &cli.Command{
		Name:  "token",
		Usage: "gérer les jetons d'API / manage API tokens",
		Subcommands: []*cli.Command{
			leaf(&cli.Command{
				Name: "new", Usage: "créer un jeton pour un compte / issue a token for a user", ArgsUsage: "NAME",
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "NAME"); err != nil {
						return err
					}
					tok, err := b.NewToken(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, tok)
					return nil
				}),
			}),
		},
	}
}

func resourceCommand() *cli.Command {
	return &cli.Command{
		Name:  "resource",
		Usage: "gérer les ressources / manage resources",
		Subcommands: []*cli.Command{
			leaf(&cli.Command{
				Name: "import", Usage: "importer un dossier de kits / import a folder of kit folders", ArgsUsage: "PATH",
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "PATH"); err != nil {
						return err
					}
					return runImport(c, b, c.Args().First())
				}),
			}),
			leaf(&cli.Command{
				Name: "list", Usage: "lister les ressources / list resources",
				Flags: []cli.Flag{&cli.StringFlag{Name: "origin", Usage: "local or remote"}},
				Action: withBackend(func(c *cli.Context, b backend) error {
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tKIND\tLICENSE\tHUB\tFILES\tTITLE")
					cursor := ""
					for {
						rs, next, err := b.List(c.Context, node.ListOptions{After: cursor, Limit: 100, Origin: c.String("origin")})
						if err != nil {
							return err
						}
						for _, r := range rs {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.ID, r.Kind, r.License, r.Hub, len(r.Files), r.Title)
						}
						if next == "" {
							break
						}
						cursor = next
					}
					return tw.Flush()
				}),
			}),
			leaf(&cli.Command{
				Name: "show", Usage: "afficher une ressource en JSON / show a resource as JSON", ArgsUsage: "ID",
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "ID"); err != nil {
						return err
					}
					r, err := b.Get(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					enc := json.NewEncoder(c.App.Writer)
					enc.SetIndent("", "  ")
					return enc.Encode(r)
				}),
			}),
			resourceSetCommand(),
			resourceShareCommand(),
			leaf(&cli.Command{
				Name: "rm", Usage: "supprimer une ressource et ses fichiers / delete a resource and its files", ArgsUsage: "ID",
				Action: withBackend(func(c *cli.Context, b backend) error {
					if err := needArgs(c, 1, "ID"); err != nil {
						return err
					}
					if err := b.Delete(c.Context, c.Args().First()); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "Ressource %s supprimée / resource deleted\n", c.Args().First())
					return nil
				}),
			}),
		},
	}
}

// runImport imports every kit folder under path: a progress bar on a
// terminal, one line per refused kit with its reason, and a final count.
// Without a running node, kits are imported in batches of a hundred (see
// kit.ImportAll): a kit's line is printed once it is durable.
func runImport(c *cli.Context, b backend, path string) error {
	dirs, err := kit.Folders(path)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fmt.Errorf("%s holds no kit folder (a folder with a resource.json and its files)", path)
	}
	out := c.App.Writer
	bar := newProgressBar(c, len(dirs), "import")
	sum := kit.Summary{}
	err = kit.ImportAll(c.Context, b, dirs, func(res kit.Result) {
		sum[res.Outcome]++
		if bar != nil {
			_ = bar.Add(1)
		}
		switch res.Outcome {
		case kit.Refused:
			if bar != nil {
				_ = bar.Clear()
			}
			fmt.Fprintf(out, "refusé / refused  %s: %v\n", res.ID, res.Err)
		default:
			if bar == nil {
				fmt.Fprintf(out, "%-9s %s\n", res.Outcome, res.ID)
			}
		}
	})
	if err != nil {
		return err
	}
	if bar != nil {
		_ = bar.Finish()
	}
	fmt.Fprintln(out, sum.String())
	return nil
}

// newProgressBar draws on the terminal's stderr, and returns nil when stderr
// is not a terminal (CI, pipes, logs), where a bar would be noise.
func newProgressBar(c *cli.Context, max int, what string) *progressbar.ProgressBar {
	f, ok := c.App.ErrWriter.(*os.File)
	if c.App.ErrWriter == nil {
		f, ok = os.Stderr, true
	}
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions(max, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
}
