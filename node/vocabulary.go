package node

// The controlled vocabularies shared by the regional hubs. Keeping them closed
// lets every node facet and label resources the same way, and lets a peer's
// resource land in the same filters as a local one.

// Kinds of resources, in the order the UI lists them.
var Kinds = []string{"tutorial", "workshop-kit", "transition-guide", "training-module", "practical-sheet"}

// Levels from beginner to advanced.
var Levels = []string{"debutant", "intermediaire", "avance"}

// Audiences a resource is written for.
var Audiences = []string{
	"grand-public", "seniors", "jeunes", "parents", "demandeurs-emploi", "allophones",
	"personnes-en-situation-de-handicap", "mediateurs", "travailleurs-sociaux",
	"associations", "tpe", "collectivites", "bibliothecaires",
}

// Themes is the 28-slug theme vocabulary.
var Themes = []string{
	"premiers-pas", "bureautique", "smartphone", "messagerie", "visioconference",
	"demarches-en-ligne", "identite-numerique", "cybersecurite", "donnees-personnelles",
	"reseaux-sociaux", "parentalite", "ecole", "sante", "banque", "emploi", "ia",
	"logiciels-libres", "communication", "vente-en-ligne", "gestion-entreprise",
	"gestion-association", "accessibilite", "numerique-responsable", "reparation",
	"tiers-lieux", "formation-mediateurs", "civic-tech", "open-data",
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
