package web

import (
	"strings"
	"testing"
)

func TestMarkdownImagesLoadLazily(t *testing.T) {
	got := string(renderMarkdown("Voir le schéma :\n\n![schéma de la box](https://hub.example/box.png)\n\n<img src=x onerror=alert(1)>"))
	if !strings.Contains(got, `<img loading="lazy" src="https://hub.example/box.png"`) {
		t.Errorf("description image should load lazily: %s", got)
	}
	if strings.Contains(got, "onerror") || strings.Count(got, "<img") != 1 {
		t.Errorf("raw HTML image must not pass: %s", got)
	}
}
