package main

import (
	"strings"

	"rsc.io/qr"
)

// terminalQR renders text as a QR code with Unicode half blocks, two modules
// per character cell vertically, with a quiet zone of two modules. By default
// light modules are drawn as blocks, which suits dark terminals (as
// qrencode -t UTF8 does); invert suits light ones.
func terminalQR(text string, invert bool) (string, error) {
	code, err := qr.Encode(text, qr.L)
	if err != nil {
		return "", err
	}
	const quiet = 2
	size := code.Size + 2*quiet
	light := func(x, y int) bool {
		x, y = x-quiet, y-quiet
		return code.Black(x, y) == invert // Black is false outside the code
	}
	var b strings.Builder
	for y := 0; y < size; y += 2 {
		for x := 0; x < size; x++ {
			top := light(x, y)
			bottom := light(x, y+1) // past the last row: background
			switch {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteRune(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}
