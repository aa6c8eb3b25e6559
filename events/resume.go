package events

import (
	"context"

	"github.com/google/uuid"

	"github.com/foliohq/folio/internal/pg"
)

// Resume says where a stream that a client resumes starts.
type Resume struct {
	// OK: the log holds every event of the stream after the resume point:
	// replay from After.
	OK bool
	// After is the resume point as the stream counts: a seq (one
	// document) or an owner position (all documents; a global position
	// held from before owner positions is translated).
	After int64
	// Truncated: not OK because events after the point were pruned (the
	// client gets a snapshot flagged replay_truncated). Not OK and not
	// Truncated: the point lies past the log's head (a plain snapshot).
	Truncated bool
}

// ResumeDocument answers for a stream of one document whose newest seq is
// head, resumed after seq after. seq is gap-free per document: the log
// covers (after, head] iff its oldest remaining event is at most after+1.
func ResumeDocument(ctx context.Context, db pg.DBTX, documentID uuid.UUID, head int, after int64) (Resume, error) {
	switch {
	case after == int64(head):
		return Resume{OK: true, After: after}, nil
	case after > int64(head):
		return Resume{}, nil
	}
	oldest, err := OldestSeq(ctx, db, documentID)
	if err != nil {
		return Resume{}, err
	}
	if oldest == 0 || int64(oldest) > after+1 {
		return Resume{Truncated: true}, nil
	}
	return Resume{OK: true, After: after}, nil
}

// ResumeOwner answers for a stream of all of owner's documents resumed
// after position after: an owner position, or a global position from
// before owner positions (below OwnerPosBase).
func ResumeOwner(ctx context.Context, db pg.DBTX, owner string, after int64) (Resume, error) {
	mark, err := PruneMark(ctx, db, owner)
	if err != nil {
		return Resume{}, err
	}
	if after < OwnerPosBase {
		// The owner position it stands for, if an event of the owner's
		// still says.
		op, found, err := OwnerPosAt(ctx, db, owner, after)
		if err != nil {
			return Resume{}, err
		}
		if !found {
			return Resume{Truncated: mark > 0}, nil
		}
		after = op
	}
	head, err := OwnerHead(ctx, db, owner)
	if err != nil {
		return Resume{}, err
	}
	if after > head {
		return Resume{}, nil
	}
	if after < mark {
		return Resume{Truncated: true}, nil
	}
	return Resume{OK: true, After: after}, nil
}
