package deps

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/blevesearch/bleve/v2"
	_ "github.com/meilisearch/meilisearch-go"
	_ "github.com/minio/minio-go/v7"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/urfave/cli/v2"
	_ "go.etcd.io/bbolt"
	_ "gopkg.in/yaml.v3"
)
