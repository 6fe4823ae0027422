package web

// ValidJSONText exposes the surrogate scan to the external test package.
var ValidJSONText = validJSONText
