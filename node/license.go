package node

import (
	"fmt"
	"sort"
	"strings"
)

// License describes one licence the node knows, keyed by its SPDX id.
type License struct {
	ID      string `json:"id"`
	Label   string `json:"label"`    // French label shown to users
	LabelEN string `json:"label_en"` // English label
	Short   string `json:"short"`    // short form used in attribution lines, e.g. "CC BY-SA 4.0"
	URL     string `json:"url"`
	// Open is true when the licence meets the Open Definition. Only open
	// licences are accepted by the default policy.
	Open bool `json:"open"`
}

// licenses is the registry. Non-open entries exist so that a hub can widen
// its policy to them explicitly; an id missing here is always refused.
var licenses = map[string]License{
	"CC0-1.0":           {"CC0-1.0", "CC0 1.0 Universel (domaine public)", "CC0 1.0 Universal (public domain)", "CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/deed.fr", true},
	"CC-BY-4.0":         {"CC-BY-4.0", "Creative Commons Attribution 4.0 International", "Creative Commons Attribution 4.0 International", "CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/deed.fr", true},
	"CC-BY-SA-4.0":      {"CC-BY-SA-4.0", "Creative Commons Attribution - Partage dans les mêmes conditions 4.0 International", "Creative Commons Attribution-ShareAlike 4.0 International", "CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/deed.fr", true},
	"CC-BY-3.0-FR":      {"CC-BY-3.0-FR", "Creative Commons Attribution 3.0 France", "Creative Commons Attribution 3.0 France", "CC BY 3.0 FR", "https://creativecommons.org/licenses/by/3.0/fr/", true},
	"CC-BY-SA-3.0-FR":   {"CC-BY-SA-3.0-FR", "Creative Commons Attribution - Partage dans les mêmes conditions 3.0 France", "Creative Commons Attribution-ShareAlike 3.0 France", "CC BY-SA 3.0 FR", "https://creativecommons.org/licenses/by-sa/3.0/fr/", true},
	"etalab-2.0":        {"etalab-2.0", "Licence Ouverte / Open Licence 2.0 (Etalab)", "Open Licence 2.0 (Etalab)", "Licence Ouverte 2.0", "https://www.etalab.gouv.fr/licence-ouverte-open-licence/", true},
	"LAL-1.3":           {"LAL-1.3", "Licence Art Libre 1.3", "Free Art License 1.3", "Licence Art Libre 1.3", "https://artlibre.org/licence/lal/", true},
	"ODbL-1.0":          {"ODbL-1.0", "Open Database License 1.0", "Open Database License 1.0", "ODbL 1.0", "https://opendatacommons.org/licenses/odbl/1-0/", true},
	"ODC-By-1.0":        {"ODC-By-1.0", "Open Data Commons Attribution 1.0", "Open Data Commons Attribution License 1.0", "ODC-By 1.0", "https://opendatacommons.org/licenses/by/1-0/", true},
	"PDDL-1.0":          {"PDDL-1.0", "Open Data Commons Public Domain Dedication 1.0", "Open Data Commons Public Domain Dedication and License 1.0", "PDDL 1.0", "https://opendatacommons.org/licenses/pddl/1-0/", true},
	"GFDL-1.3-or-later": {"GFDL-1.3-or-later", "Licence de documentation libre GNU 1.3 ou ultérieure", "GNU Free Documentation License 1.3 or later", "GFDL 1.3+", "https://www.gnu.org/licenses/fdl-1.3.html", true},
	"CC-BY-NC-4.0":      {"CC-BY-NC-4.0", "Creative Commons Attribution - Pas d'utilisation commerciale 4.0 International", "Creative Commons Attribution-NonCommercial 4.0 International", "CC BY-NC 4.0", "https://creativecommons.org/licenses/by-nc/4.0/deed.fr", false},
	"CC-BY-NC-SA-4.0":   {"CC-BY-NC-SA-4.0", "Creative Commons Attribution - Pas d'utilisation commerciale - Partage dans les mêmes conditions 4.0 International", "Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International", "CC BY-NC-SA 4.0", "https://creativecommons.org/licenses/by-nc-sa/4.0/deed.fr", false},
	"CC-BY-ND-4.0":      {"CC-BY-ND-4.0", "Creative Commons Attribution - Pas de modification 4.0 International", "Creative Commons Attribution-NoDerivatives 4.0 International", "CC BY-ND 4.0", "https://creativecommons.org/licenses/by-nd/4.0/deed.fr", false},
	"CC-BY-NC-ND-4.0":   {"CC-BY-NC-ND-4.0", "Creative Commons Attribution - Pas d'utilisation commerciale - Pas de modification 4.0 International", "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0 International", "CC BY-NC-ND 4.0", "https://creativecommons.org/licenses/by-nc-nd/4.0/deed.fr", false},
}

// LookupLicense returns the registry entry for an SPDX id.
func LookupLicense(id string) (License, bool) {
	l, ok := licenses[id]
	return l, ok
}

// AllLicenses lists the registry sorted by id.
func AllLicenses() []License {
	out := make([]License, 0, len(licenses))
	for _, l := range licenses {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Policy says which licences this node accepts, locally and from peers.
type Policy struct {
	allowed map[string]bool
}

// NewPolicy returns the default Open Definition policy widened by extra
// (e.g. "CC-BY-NC-SA-4.0"). Unknown ids are refused here so a typo in the
// configuration fails at start-up instead of silently accepting nothing.
func NewPolicy(extra ...string) (*Policy, error) {
	p := &Policy{allowed: map[string]bool{}}
	for id, l := range licenses {
		if l.Open {
			p.allowed[id] = true
		}
	}
	for _, id := range extra {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if _, ok := licenses[id]; !ok {
			return nil, fmt.Errorf("--allow-license %q: unknown licence; known ids: %s", id, strings.Join(knownIDs(), ", "))
		}
		p.allowed[id] = true
	}
	return p, nil
}

func knownIDs() []string {
	var ids []string
	for _, l := range AllLicenses() {
		ids = append(ids, l.ID)
	}
	return ids
}

// Accepted lists the accepted licence ids, sorted.
func (p *Policy) Accepted() []string {
	var ids []string
	for id := range p.allowed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Check returns nil when the licence is accepted, else a ValidationError
// whose message says which licences are and how to widen the policy.
func (p *Policy) Check(id string) error {
	if p.allowed[id] {
		return nil
	}
	accepted := strings.Join(p.Accepted(), ", ")
	l, known := licenses[id]
	var rule string
	switch {
	case id == "":
		rule = fmt.Sprintf("a licence is required; only openly licensed resources can be shared (accepted: %s)", accepted)
	case !known:
		rule = fmt.Sprintf("licence %q is unknown or proprietary and is always refused: only openly licensed resources can be shared (accepted: %s)", id, accepted)
	default:
		rule = fmt.Sprintf("licence %s (%s) does not meet this node's open licence policy: only openly licensed resources can be shared (accepted: %s); an admin can widen the policy with --allow-license %s", id, l.Short, accepted, id)
	}
	return &ValidationError{Field: "license", Rule: rule, Code: "license_refused"}
}
