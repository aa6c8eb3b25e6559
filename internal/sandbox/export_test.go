package sandbox

// SetMaxImageWork sets the largest page OCR straightens and turns, until
// the returned function restores it.
func SetMaxImageWork(n int) (restore func()) {
	old := maxImageWork
	maxImageWork = n
	return func() { maxImageWork = old }
}
