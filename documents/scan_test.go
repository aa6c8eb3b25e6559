package documents_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
)

// TestQuarantineWinsOverARunningParse: a rescan quarantines a document
// whose parse is running; the parse's last steps (done, failed) do not
// bring it back, and its job is cancelled.
func TestQuarantineWinsOverARunningParse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	found := documents.ScanOutcome{Result: documents.ScanFound, Found: "Folio.Test.Today", Signatures: "2"}
	for _, end := range []string{"done", "failed"} {
		b := setup(t)
		doc, gen := b.parsing(t)
		require.NoError(t, documents.Quarantine(ctx, b.db.Pool, b.queue, doc.ID, found, true))
		require.Equal(t, "cancelled", string(b.parseJobs(t, doc.ID)[0].State))
		switch end {
		case "done":
			current, err := documents.FinishParse(ctx, b.db.Pool, doc.ID, gen, 1, documents.Summary{}, nil, nil)
			require.NoError(t, err)
			require.False(t, current, "the parse is no longer the document's")
		case "failed":
			require.NoError(t, documents.FailParse(ctx, b.db.Pool, doc.ID, gen, "malformed", "broken"))
		}
		got, err := documents.Get(ctx, b.db.Pool, "alice", doc.ID)
		require.NoError(t, err)
		require.Equal(t, documents.StatusQuarantined, got.Status, end)
		types := b.eventTypes(t, doc.ID)
		require.Equal(t, "document.quarantined", types[len(types)-1], end)
		_, _, err = documents.StartParse(ctx, b.db.Pool, doc.ID, gen+1, 1)
		require.ErrorIs(t, err, documents.ErrNothingToParse, "never parsed again while quarantined")
	}
}
