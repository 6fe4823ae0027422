package federation

import "sync"

// actorLocks serialises the read-modify-write of one peer's record (the
// inbox worker applying its Accept while an admin edits it) without
// making every peer wait for one: a single lock held across a slow hub's
// actor fetch froze the inbox and the CLI for everyone. Network fetches
// happen before locking; the lock only covers reading and writing the
// record. Like GoToSocial's FedLocks, an entry lives while someone holds
// or waits for it.
type actorLocks struct {
	mu sync.Mutex
	m  map[string]*actorLock
}

type actorLock struct {
	mu    sync.Mutex
	users int // holders and waiters
}

// lock locks actorID's record and returns its unlock.
func (l *actorLocks) lock(actorID string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*actorLock{}
	}
	e := l.m[actorID]
	if e == nil {
		e = &actorLock{}
		l.m[actorID] = e
	}
	e.users++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.m, actorID)
		}
		l.mu.Unlock()
	}
}
