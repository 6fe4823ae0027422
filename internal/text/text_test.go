package text

import (
	"strings"
	"testing"
)

func TestPlainText(t *testing.T) {
	for in, want := range map[string]string{
		"**Objectifs**\n- Créer un compte\n- Envoyer un **premier** message": "Objectifs Créer un compte Envoyer un premier message",
		"## Déroulé\n1. Accueil\n2) Pratique\n\n10 réflexes":                 "Déroulé 1 Accueil 2 Pratique 10 réflexes",
		"Voir [le site](https://example.org) et `code`":                      "Voir le site et code",
		"> citation\n* puce\n+ autre":                                        "citation puce autre",
		"":                                                                   "",
	} {
		if got := PlainText(in); got != want {
			t.Errorf("PlainText(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkPlainText: every indexed resource and every federated object
// turns its description into plain text.
func BenchmarkPlainText(b *testing.B) {
	md := strings.Repeat("## Objectifs\n\n- **Savoir** créer une [adresse](https://exemple.fr) de messagerie\n1. Ouvrir le `navigateur`\n\nUn paragraphe __assez__ long pour la fiche, avec des mots.\n", 20)
	b.ReportAllocs()
	for b.Loop() {
		PlainText(md)
	}
}
