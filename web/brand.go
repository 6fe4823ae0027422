package web

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	_ "image/jpeg" // DecodeConfig of --logo / --banner files
	"image/png"
	"io"
	"net/http"
	"os"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/communs-numerique/communs/internal/paths"
)

// The hub's pictures: a logo (square; the fediverse avatar, the favicon
// source) and a banner (wide; the fediverse header and the og:image of every
// page). Given as files on serve (--logo, --banner) or drawn from the hub's
// name, so a fresh node never shows a blank avatar.

// Stable public paths of the hub's pictures; the federation actor points
// its icon and image here.
const (
	LogoPath   = paths.Logo
	BannerPath = paths.Banner
)

// MaxBrandImageSize bounds a --logo or --banner file: fediverse servers
// refuse larger avatars and headers (Mastodon and GoToSocial take a few MB).
const MaxBrandImageSize = 2 << 20

// maxBrandPixels bounds each side of a given picture.
const maxBrandPixels = 4096

// Image is a picture served by the node, with its sniffed media type.
type Image struct {
	Data []byte
	Type string
}

// Brand holds the hub's pictures.
type Brand struct {
	Logo, Banner Image
	// Generated tells which pictures were drawn rather than given.
	LogoGenerated, BannerGenerated bool
	// favicon (an ICO holding a 32×32 PNG) and svg are drawn from the
	// hub's initials, whatever the logo.
	favicon []byte
	svg     string
}

var errBadImage = errors.New("not a usable image")

// LoadImage reads a --logo or --banner file. It accepts PNG, JPEG and WebP,
// recognised by their bytes rather than the file name, at most
// MaxBrandImageSize bytes and maxBrandPixels per side.
func LoadImage(path string) (Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return Image{}, fmt.Errorf("read image %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxBrandImageSize+1))
	if err != nil {
		return Image{}, fmt.Errorf("read image %s: %w", path, err)
	}
	if len(b) > MaxBrandImageSize {
		return Image{}, fmt.Errorf("image %s is over %d MiB: %w", path, MaxBrandImageSize>>20, errBadImage)
	}
	img, err := CheckImage(b)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", path, err)
	}
	return img, nil
}

// CheckImage sniffs b and checks its dimensions. It reads headers only: no
// pixel is decoded, so a crafted file cannot make the node allocate a huge
// bitmap.
func CheckImage(b []byte) (Image, error) {
	ct := http.DetectContentType(b)
	var w, h int
	switch ct {
	case "image/png", "image/jpeg":
		cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return Image{}, fmt.Errorf("%s header unreadable (%v): %w", ct, err, errBadImage)
		}
		w, h = cfg.Width, cfg.Height
	case "image/webp":
		var err error
		if w, h, err = webpSize(b); err != nil {
			return Image{}, err
		}
	default:
		return Image{}, fmt.Errorf("content is %s; use PNG, JPEG or WebP: %w", ct, errBadImage)
	}
	if w <= 0 || h <= 0 || w > maxBrandPixels || h > maxBrandPixels {
		return Image{}, fmt.Errorf("%d×%d pixels; each side must be 1 to %d: %w", w, h, maxBrandPixels, errBadImage)
	}
	return Image{Data: b, Type: ct}, nil
}

// webpSize reads the canvas size of a WebP file from its first chunk
// (lossy VP8, lossless VP8L or extended VP8X).
func webpSize(b []byte) (int, int, error) {
	bad := fmt.Errorf("WebP header unreadable: %w", errBadImage)
	if len(b) < 30 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 0, 0, bad
	}
	switch string(b[12:16]) {
	case "VP8 ":
		if b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a {
			return 0, 0, bad
		}
		return int(binary.LittleEndian.Uint16(b[26:]) & 0x3fff), int(binary.LittleEndian.Uint16(b[28:]) & 0x3fff), nil
	case "VP8L":
		if b[20] != 0x2f {
			return 0, 0, bad
		}
		v := binary.LittleEndian.Uint32(b[21:])
		return int(v&0x3fff) + 1, int((v>>14)&0x3fff) + 1, nil
	case "VP8X":
		w := int(b[24]) | int(b[25])<<8 | int(b[26])<<16
		h := int(b[27]) | int(b[28])<<8 | int(b[29])<<16
		return w + 1, h + 1, nil
	}
	return 0, 0, bad
}

// NewBrand completes the given pictures with drawn ones: the hub's
// initials on a colour derived from its name.
func NewBrand(name string, logo, banner *Image) Brand {
	var b Brand
	ini, bg := initials(name), hubColour(name)
	if logo != nil {
		b.Logo = *logo
	} else {
		b.Logo, b.LogoGenerated = Image{Data: drawInitials(400, 400, ini, bg, false), Type: "image/png"}, true
	}
	if banner != nil {
		b.Banner = *banner
	} else {
		b.Banner, b.BannerGenerated = Image{Data: drawInitials(1500, 500, ini, bg, true), Type: "image/png"}, true
	}
	b.favicon = ico(drawInitials(32, 32, ini, bg, false), 32)
	b.svg = svgInitials(ini, bg)
	return b
}

// initials are up to two letters or digits from the hub's name, accents
// removed and the words every hub name shares skipped ("Hub Île-de-France"
// gives "IF", "Hub CoNumM" gives "CO"), so the bitmap glyphs cover them.
func initials(name string) string {
	var words [][]rune
	for _, word := range strings.FieldsFunc(norm.NFD.String(name), func(r rune) bool {
		return unicode.IsSpace(r) || r == '-' || r == '\'' || r == '’'
	}) {
		var w []rune
		for _, r := range strings.ToUpper(word) {
			if _, ok := glyphs[r]; ok {
				w = append(w, r)
			}
		}
		if len(w) > 0 && !commonWords[string(w)] {
			words = append(words, w)
		}
	}
	switch {
	case len(words) == 0:
		return "C"
	case len(words) == 1 && len(words[0]) > 1:
		return string(words[0][:2])
	case len(words) == 1:
		return string(words[0])
	}
	return string([]rune{words[0][0], words[1][0]})
}

var commonWords = map[string]bool{"HUB": true, "DE": true, "DU": true, "DES": true, "LA": true, "LE": true, "LES": true,
	"ET": true, "D": true, "L": true, "THE": true, "OF": true, "AND": true}

// hubColour is a dark, saturated colour picked from the name, so that white
// letters on it keep a contrast ratio above 4.5:1.
func hubColour(name string) color.RGBA {
	h := fnv.New32a()
	h.Write([]byte(name))
	hue := float64(h.Sum32() % 360)
	return hsl(hue, 0.65, 0.30)
}

func hsl(h, s, l float64) color.RGBA {
	c := (1 - abs(2*l-1)) * s
	x := c * (1 - abs(mod(h/60, 2)-1))
	m := l - c/2
	var r, g, b float64
	switch {
	case h < 60:
		r, g = c, x
	case h < 120:
		r, g = x, c
	case h < 180:
		g, b = c, x
	case h < 240:
		g, b = x, c
	case h < 300:
		r, b = x, c
	default:
		r, b = c, x
	}
	return color.RGBA{uint8((r + m) * 255), uint8((g + m) * 255), uint8((b + m) * 255), 255}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func mod(a, b float64) float64 { return a - b*float64(int(a/b)) }

// drawInitials paints the initials, centred, in white on bg; a banner also
// gets a band of lighter diagonal stripes so it reads as a header.
func drawInitials(w, h int, ini string, bg color.RGBA, stripes bool) []byte {
	light := color.RGBA{uint8(min(255, int(bg.R)+24)), uint8(min(255, int(bg.G)+24)), uint8(min(255, int(bg.B)+24)), 255}
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{bg, light, color.White})
	if stripes {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				if (x+y)/40%2 == 0 {
					img.SetColorIndex(x, y, 1)
				}
			}
		}
	}
	runes := []rune(ini)
	cols := len(runes)*6 - 1
	scale := min(w*6/10/cols, h*5/10/7)
	scale = max(scale, 1)
	x0, y0 := (w-cols*scale)/2, (h-7*scale)/2
	for i, r := range runes {
		g := glyphs[r]
		for row := 0; row < 7; row++ {
			for col := 0; col < 5; col++ {
				if g[row][col] != '#' {
					continue
				}
				for dy := 0; dy < scale; dy++ {
					for dx := 0; dx < scale; dx++ {
						img.SetColorIndex(x0+(i*6+col)*scale+dx, y0+row*scale+dy, 2)
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// svgInitials is the favicon as SVG: the same glyphs as squares.
func svgInitials(ini string, bg color.RGBA) string {
	runes := []rune(ini)
	cols := len(runes)*6 - 1
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d"><rect width="%d" height="%d" rx="2" fill="#%02x%02x%02x"/><path fill="#fff" d="`,
		cols+4, cols+4, cols+4, cols+4, bg.R, bg.G, bg.B)
	y0 := (cols + 4 - 7) / 2
	for i, r := range runes {
		g := glyphs[r]
		for row := 0; row < 7; row++ {
			for col := 0; col < 5; col++ {
				if g[row][col] == '#' {
					fmt.Fprintf(&b, "M%d %dh1v1h-1z", 2+i*6+col, y0+row)
				}
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}

// ico wraps a PNG in an ICO container, which every browser reads at
// /favicon.ico.
func ico(pngData []byte, size int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [3]uint16{0, 1, 1})
	b.Write([]byte{byte(size), byte(size), 0, 0})
	binary.Write(&b, binary.LittleEndian, [2]uint16{1, 32})
	binary.Write(&b, binary.LittleEndian, [2]uint32{uint32(len(pngData)), 22})
	b.Write(pngData)
	return b.Bytes()
}

// glyphs is a 5×7 bitmap font for A-Z and 0-9: enough for initials
// without shipping a font.
var glyphs = map[rune][7]string{
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
}
