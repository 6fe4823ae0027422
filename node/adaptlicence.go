package node

import (
	"fmt"
	"slices"
)

// Adaptation rules of the licence registry: may a resource under a licence
// be adapted (NoDerivatives: no), and which licences may the adaptation
// take (ShareAlike: the same or one its text or Creative Commons lists as
// compatible; NonCommercial: NonCommercial again; attribution-only and
// public domain: any). Attribution is always kept: an adaptation carries
// its whole chain (Resource.BasedOn), which no edit removes. The table and
// the source of each rule are in docs/LICENCES.md; a test checks the two
// agree.

// adaptRule is the rule of one licence of the registry.
type adaptRule struct {
	// Allowed is false for NoDerivatives.
	Allowed bool
	// To lists the licences an adaptation may take; nil with AnyOpen or
	// Any set.
	To []string
	// AnyOpen: any open licence of the registry (attribution-only
	// licences); Any: any licence of the registry (public domain).
	AnyOpen, Any bool
	// FR and EN state the rule in plain words.
	FR, EN string
}

var adaptRules = map[string]adaptRule{
	"CC0-1.0": {Allowed: true, Any: true,
		FR: "CC0 place l'œuvre dans le domaine public : l'adaptation peut prendre n'importe quelle licence",
		EN: "CC0 dedicates the work to the public domain: the adaptation may take any licence"},
	"PDDL-1.0": {Allowed: true, Any: true,
		FR: "la PDDL place l'œuvre dans le domaine public : l'adaptation peut prendre n'importe quelle licence",
		EN: "the PDDL dedicates the work to the public domain: the adaptation may take any licence"},
	"CC-BY-4.0": {Allowed: true, AnyOpen: true,
		FR: "CC BY 4.0 permet l'adaptation sous n'importe quelle licence ouverte, en citant l'œuvre d'origine",
		EN: "CC BY 4.0 allows adaptation under any open licence, with attribution of the original work"},
	"CC-BY-3.0-FR": {Allowed: true, AnyOpen: true,
		FR: "CC BY 3.0 France permet l'adaptation sous n'importe quelle licence ouverte, en citant l'œuvre d'origine",
		EN: "CC BY 3.0 France allows adaptation under any open licence, with attribution of the original work"},
	"etalab-2.0": {Allowed: true, AnyOpen: true,
		FR: "la Licence Ouverte 2.0 permet l'adaptation sous n'importe quelle licence ouverte, en mentionnant la source",
		EN: "the Open Licence 2.0 (Etalab) allows adaptation under any open licence, with attribution of the source"},
	"ODC-By-1.0": {Allowed: true, AnyOpen: true,
		FR: "ODC-By 1.0 permet l'adaptation sous n'importe quelle licence ouverte, en citant la base d'origine",
		EN: "ODC-By 1.0 allows adaptation under any open licence, with attribution of the original database"},
	"CC-BY-SA-4.0": {Allowed: true, To: []string{"CC-BY-SA-4.0", "LAL-1.3"},
		FR: "CC BY-SA 4.0 (partage dans les mêmes conditions) : l'adaptation garde CC BY-SA 4.0 ou prend une licence que Creative Commons déclare compatible (Licence Art Libre 1.3)",
		EN: "CC BY-SA 4.0 (ShareAlike): the adaptation keeps CC BY-SA 4.0 or takes a licence Creative Commons lists as compatible (Free Art License 1.3)"},
	"CC-BY-SA-3.0-FR": {Allowed: true, To: []string{"CC-BY-SA-3.0-FR", "CC-BY-SA-4.0"},
		FR: "CC BY-SA 3.0 France (partage dans les mêmes conditions) : l'adaptation garde cette licence ou une version ultérieure avec les mêmes options (CC BY-SA 4.0)",
		EN: "CC BY-SA 3.0 France (ShareAlike): the adaptation keeps this licence or a later version with the same elements (CC BY-SA 4.0)"},
	"LAL-1.3": {Allowed: true, To: []string{"LAL-1.3", "CC-BY-SA-4.0"},
		FR: "Licence Art Libre 1.3 (copyleft) : l'adaptation garde la Licence Art Libre ou une licence compatible (CC BY-SA 4.0)",
		EN: "Free Art License 1.3 (copyleft): the adaptation keeps the Free Art License or a compatible licence (CC BY-SA 4.0)"},
	"ODbL-1.0": {Allowed: true, To: []string{"ODbL-1.0"},
		FR: "ODbL 1.0 (partage dans les mêmes conditions) : la base adaptée reste sous ODbL 1.0",
		EN: "ODbL 1.0 (share-alike): the adapted database stays under ODbL 1.0"},
	"GFDL-1.3-or-later": {Allowed: true, To: []string{"GFDL-1.3-or-later"},
		FR: "GFDL 1.3 (copyleft) : la version modifiée reste sous GFDL",
		EN: "GFDL 1.3 (copyleft): the modified version stays under the GFDL"},
	"CC-BY-NC-4.0": {Allowed: true, To: []string{"CC-BY-NC-4.0", "CC-BY-NC-SA-4.0"},
		FR: "CC BY-NC 4.0 (pas d'utilisation commerciale) : l'adaptation reste non commerciale (CC BY-NC 4.0 ou CC BY-NC-SA 4.0)",
		EN: "CC BY-NC 4.0 (NonCommercial): the adaptation stays NonCommercial (CC BY-NC 4.0 or CC BY-NC-SA 4.0)"},
	"CC-BY-NC-SA-4.0": {Allowed: true, To: []string{"CC-BY-NC-SA-4.0"},
		FR: "CC BY-NC-SA 4.0 (non commerciale, partage dans les mêmes conditions) : l'adaptation garde CC BY-NC-SA 4.0",
		EN: "CC BY-NC-SA 4.0 (NonCommercial, ShareAlike): the adaptation keeps CC BY-NC-SA 4.0"},
	"CC-BY-ND-4.0": {Allowed: false,
		FR: "CC BY-ND 4.0 (pas de modification) interdit de diffuser une adaptation",
		EN: "CC BY-ND 4.0 (NoDerivatives) forbids sharing an adaptation"},
	"CC-BY-NC-ND-4.0": {Allowed: false,
		FR: "CC BY-NC-ND 4.0 (pas de modification) interdit de diffuser une adaptation",
		EN: "CC BY-NC-ND 4.0 (NoDerivatives) forbids sharing an adaptation"},
}

// LicenceRuleError refuses an adaptation, or an adaptation's licence, by
// the rule of the source's licence, stated in French and in English. A
// NoDerivatives source is a conflict (409: the resource cannot be
// adapted); an incompatible licence is invalid input (400, field license).
type LicenceRuleError struct {
	// From is the source's licence; To the licence refused (empty when the
	// source may not be adapted at all).
	From, To string
	// NoDerivatives is set when the source may not be adapted.
	NoDerivatives bool
	FR, EN        string
}

func (e *LicenceRuleError) Error() string {
	if e.NoDerivatives {
		return fmt.Sprintf("ce kit ne peut pas être adapté : %s. / This kit cannot be adapted: %s.", e.FR, e.EN)
	}
	return fmt.Sprintf("une adaptation d'un kit sous %s ne peut pas passer sous %s : %s. / An adaptation of a kit under %s cannot take %s: %s.",
		e.From, e.To, e.FR, e.From, e.To, e.EN)
}

// Is makes a NoDerivatives refusal an ErrConflict and an incompatible
// licence an ErrInvalid.
func (e *LicenceRuleError) Is(target error) bool {
	if e.NoDerivatives {
		return target == ErrConflict
	}
	return target == ErrInvalid
}

// Unwrap gives an incompatible licence the ValidationError the edges
// answer with 400 and the field at fault.
func (e *LicenceRuleError) Unwrap() error {
	if e.NoDerivatives {
		return nil
	}
	return &ValidationError{Field: "license", Rule: e.Error(), Code: "license_incompatible"}
}

// AdaptationRule returns the rule of a licence in French and English, and
// whether it allows adaptation at all.
func AdaptationRule(l string) (fr, en string, allowed bool, err error) {
	r, ok := adaptRules[l]
	if !ok {
		return "", "", false, invalid("license", "licence %q is not in this node's registry", l)
	}
	return r.FR, r.EN, r.Allowed, nil
}

// AdaptationLicences lists, sorted, the licences of the registry an
// adaptation of a resource under l may take; a NoDerivatives licence
// returns a *LicenceRuleError.
func AdaptationLicences(l string) ([]string, error) {
	r, ok := adaptRules[l]
	if !ok {
		return nil, invalid("license", "licence %q is not in this node's registry", l)
	}
	if !r.Allowed {
		return nil, &LicenceRuleError{From: l, NoDerivatives: true, FR: r.FR, EN: r.EN}
	}
	var out []string
	for _, lic := range AllLicenses() {
		if r.Any || (r.AnyOpen && lic.Open) || slices.Contains(r.To, lic.ID) {
			out = append(out, lic.ID)
		}
	}
	return out, nil
}

// CheckAdaptable refuses a source whose licence forbids adaptation.
func CheckAdaptable(l string) error {
	_, err := AdaptationLicences(l)
	return err
}

// CheckAdaptationLicence says whether an adaptation of a resource under
// from may be published under to.
func CheckAdaptationLicence(from, to string) error {
	allowed, err := AdaptationLicences(from)
	if err != nil {
		return err
	}
	if slices.Contains(allowed, to) {
		return nil
	}
	r := adaptRules[from]
	return &LicenceRuleError{From: from, To: to, FR: r.FR, EN: r.EN}
}

// checkChainLicence checks an adaptation's licence against every source of
// its chain: each licence's rule binds all later adaptations.
func checkChainLicence(chain []Source, to string) error {
	for _, src := range chain {
		if err := CheckAdaptationLicence(src.License, to); err != nil {
			return err
		}
	}
	return nil
}

// AdaptationLicencesFor is AdaptationLicences for a chain: the licences
// every source's rule allows (the editor's licence menu).
func AdaptationLicencesFor(chain []Source) []string {
	var out []string
	for _, l := range AllLicenses() {
		if checkChainLicence(chain, l.ID) == nil {
			out = append(out, l.ID)
		}
	}
	return out
}
