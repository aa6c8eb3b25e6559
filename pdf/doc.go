// Package pdf inspects PDF files and extracts their text, on top of
// pdfcpu's object model.
//
// pdfcpu reads the file (xref, objects, streams, encryption); this package
// interprets what pdfcpu leaves raw: content-stream text operators, fonts
// and their encodings (ToUnicode CMaps, simple-font encodings with
// Differences through the Adobe Glyph List, Type0/CID fonts, Type3), and
// lays the glyphs out into lines and words in reading order.
//
// Inspect is meant to run inside a sandboxed child process (see
// internal/sandbox, which the parse worker in jobs runs): a
// hostile file can exhaust memory in ways recover cannot catch.
package pdf

//go:generate go run ./internal/gen
//go:generate go run ./internal/gencjk -o cjk.bin
