package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/foliohq/folio/internal/tailbuf"
)

// process is a started child with its output kept for error messages.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *tailbuf.Buffer
	done chan struct{}
	err  error // valid after done is closed
}

// asUser is the account children run as: PostgreSQL refuses to run as root,
// so as root they run as the "postgres" system user.
type asUser struct {
	uid, gid uint32
	set      bool
}

func serviceUser() (asUser, error) {
	if os.Geteuid() != 0 {
		return asUser{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return asUser{}, errors.New("running as root, and PostgreSQL refuses to: there is no 'postgres' system user to run it as (install the postgresql package, or run as an ordinary user)")
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return asUser{uid: uint32(uid), gid: uint32(gid), set: true}, nil
}

// chown gives paths to the service user (a no-op when not root).
func (u asUser) chown(paths ...string) error {
	if !u.set {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(u.uid), int(u.gid)); err != nil {
			return fmt.Errorf("error handing %s to the postgres user: %w", p, err)
		}
	}
	return nil
}

func (u asUser) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Setpgid:   true,            // Ctrl-C reaches us, not them: we stop them in order
		Pdeathsig: syscall.SIGKILL, // and if we die, they die
	}
	if u.set {
		attr.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid}
	}
	return attr
}

// run runs a command to completion and returns its output on failure.
func (u asUser) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = u.sysProcAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("error running %s: %w: %s", name, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

func (u asUser) start(name string, env []string, bin string, args ...string) (*process, error) {
	// Not CommandContext: a service child is stopped gracefully by stop, in
	// order, never killed because some context ended.
	cmd := exec.Command(bin, args...) //nolint:noctx // see above
	cmd.SysProcAttr = u.sysProcAttr()
	cmd.Env = env
	out := &tailbuf.Buffer{Max: 16 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("error starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports a non-nil error once the process has ended.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%w): %s", p.name, p.err, p.out.String())
	default:
		return nil
	}
}

// stop sends sig to the whole process group, waits up to grace, then kills.
func (p *process) stop(sig syscall.Signal, grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s did not stop within %s and was killed", p.name, grace)
}

// waitFor polls ready until it returns nil, the process exits, or timeout.
func waitFor(p *process, timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if perr := p.exited(); perr != nil {
			return perr
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w: %s", p.name, timeout, err, p.out.String())
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}
