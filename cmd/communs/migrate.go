package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
)

func storageCommand() *cli.Command {
	return &cli.Command{
		Name:  "storage",
		Usage: "stockage des fichiers / file storage",
		Subcommands: []*cli.Command{
			leaf(&cli.Command{
				Name:  "migrate",
				Usage: "copier tous les fichiers vers un autre stockage / copy every file to another storage (disk -> s3 with the --s3-* flags, or s3 -> disk)",
				Flags: []cli.Flag{&cli.StringFlag{Name: "to", Usage: "s3 or disk"}},
				Action: func(c *cli.Context) error {
					cfg, err := readConfig(c)
					if err != nil {
						return err
					}
					return migrate(c, cfg, c.String("to"))
				},
			}),
		},
	}
}

// migrate copies the blobs from the storage the node uses now to the other
// one. The node can keep serving meanwhile: the source is only read, and a
// second run copies what was uploaded during the first.
func migrate(c *cli.Context, cfg config, to string) error {
	disk, err := blob.NewDisk(filepath.Join(cfg.Data, "blobs"))
	if err != nil {
		return err
	}
	var src, dst node.Blobs
	switch {
	case to == "s3" && cfg.Storage == "disk":
		if cfg.S3.Endpoint == "" || cfg.S3.AccessKey == "" || cfg.S3.SecretKey == "" {
			return fmt.Errorf("--to s3 needs the target: --s3-endpoint, --s3-access-key, --s3-secret-key (and --s3-bucket, --s3-insecure, --s3-path-style as needed)")
		}
		s3, err := blob.NewS3(c.Context, cfg.S3)
		if err != nil {
			return fmt.Errorf("target S3 %s: %w", cfg.S3.Endpoint, err)
		}
		src, dst = disk, s3
	case to == "disk" && cfg.Storage == "s3":
		s3, err := blob.NewS3(c.Context, cfg.S3)
		if err != nil {
			return fmt.Errorf("source S3 %s: %w", cfg.S3.Endpoint, err)
		}
		src, dst = s3, disk
	case to == cfg.Storage:
		return fmt.Errorf("--to %s: the node already uses %s storage", to, to)
	default:
		return fmt.Errorf("--to %q: use s3 (from disk) or disk (from s3)", to)
	}
	bar := newProgressBar(c, -1, "migrate")
	last := 0
	st, err := blob.Copy(c.Context, src, dst, func(s blob.CopyStats) {
		done := s.Copied + s.Present
		if bar != nil {
			bar.ChangeMax(s.Total)
			_ = bar.Set(done)
		} else if done-last >= 10 || done == s.Total {
			fmt.Fprintf(c.App.Writer, "%d/%d blobs (%d copied, %d already there)\n", done, s.Total, s.Copied, s.Present)
			last = done
		}
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return fmt.Errorf("migration stopped after %d copied (run the same command again to resume): %w", st.Copied, err)
	}
	fmt.Fprintf(c.App.Writer, "Migration terminée / done: %d blobs, %d copied (%s), %d already there, every digest verified.\n",
		st.Total, st.Copied, node.HumanSize(st.Bytes), st.Present)
	fmt.Fprintln(c.App.Writer, "Pour basculer, redémarrez le nœud avec / to switch, restart the node with:")
	if to == "s3" {
		flags := []string{"--storage s3", "--s3-endpoint " + cfg.S3.Endpoint, "--s3-bucket " + cfg.S3.Bucket,
			"--s3-access-key " + cfg.S3.AccessKey, "--s3-secret-key '...'"}
		if cfg.S3.Region != "" {
			flags = append(flags, "--s3-region "+cfg.S3.Region)
		}
		if cfg.S3.Insecure {
			flags = append(flags, "--s3-insecure")
		}
		if cfg.S3.PathStyle != "" && cfg.S3.PathStyle != "auto" {
			flags = append(flags, "--s3-path-style "+cfg.S3.PathStyle)
		}
		fmt.Fprintf(c.App.Writer, "  communs serve %s\n  (or COMMUNS_STORAGE=s3 and the COMMUNS_S3_* variables)\n", strings.Join(flags, " "))
		fmt.Fprintln(c.App.Writer, "Run the migration once more just before switching, to copy what was uploaded meanwhile.")
	} else {
		fmt.Fprintln(c.App.Writer, "  communs serve --storage disk   (files in "+filepath.Join(cfg.Data, "blobs")+")")
	}
	return nil
}
