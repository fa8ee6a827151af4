package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// Mail is one message to send.
type Mail struct {
	Key     string `json:"-"` // the idempotency key: the provider delivers a key once
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// Sender hands mail to a provider. A nil error means the provider accepted
// it. Send may be called again with a mail of the same Key (after a crash
// between a send and its record); the provider must deliver a key once.
type Sender interface {
	Send(ctx context.Context, m Mail) error
}

// MailSent is emitted by the outbox after each batch it sent, with the
// totals once the batch was marked sent.
var MailSent = eventbus.NewTopic[Totals]("mail:sent")

// EmailParams is what EmailService takes: the orders service, whose
// database holds the outbox, and the configuration.
type EmailParams struct {
	fx.In
	Orders *OrderService `name:"orders"`
	Config Config
}

// EmailService sends the confirmation email of every order. It does not
// take them from the bus: OrderService writes each email to the outbox in
// the transaction of its order, and the service's child, the outbox
// drainer, sends what the outbox holds and marks it sent. An order's event
// only wakes the drainer early. So a crash, a restart or a burst of orders
// loses no email: what was not marked sent is sent at the next start.
//
// With EMAIL_KEY set, mail goes to the provider's HTTP API (EMAIL_API_URL);
// without it, to the Mailbox in the data directory.
type EmailService struct {
	sprag.Service
	orders  *OrderService
	cfg     Config
	outbox  *Outbox                 // set by OnStart, before the listener that reads it
	mailbox atomic.Pointer[Mailbox] // nil with EMAIL_KEY; read by Health from any goroutine
}

// NewEmailService returns the service.
func NewEmailService(p EmailParams) *EmailService {
	return &EmailService{orders: p.Orders, cfg: p.Config}
}

// OnStart chooses the sender, adopts the drainer and subscribes to
// completed orders to wake it.
func (e *EmailService) OnStart(ctx context.Context) error {
	store := e.orders.Store()
	if store == nil {
		return errors.New("the orders database is not open: start the orders service first")
	}
	var sender Sender
	if e.cfg.EmailKey != "" {
		sender = &APISender{URL: e.cfg.EmailURL, Key: e.cfg.EmailKey, Client: &http.Client{Timeout: 10 * time.Second}}
	} else {
		box, err := OpenMailbox(ctx, e.cfg.DataDir)
		if err != nil {
			return err
		}
		if err := e.Own(box); err != nil { // closed after the drainer stopped
			return errors.Join(err, box.Close())
		}
		e.Logger().Info("EMAIL_KEY is not set: mail is delivered to the local mailbox", zap.String("path", box.Path()))
		e.mailbox.Store(box)
		sender = box
	}
	e.outbox = NewOutbox(store, sender)
	if err := e.Adopt(ctx, "outbox", e.outbox); err != nil {
		return err
	}
	_, err := sprag.ListenTopic(e, OrderCompleted, e.wakeOutbox)
	return err
}

// wakeOutbox has the drainer send a new order's email now.
func (e *EmailService) wakeOutbox(context.Context, Placed) error {
	e.outbox.Wake()
	return nil
}

// Health pings the mailbox, when mail goes there. (The outbox is in the
// orders database, which the orders service pings.)
func (e *EmailService) Health(ctx context.Context) error {
	if box := e.mailbox.Load(); box != nil {
		return box.Ping(ctx)
	}
	return nil
}

// The outbox drainer's defaults.
const (
	outboxBatch    = 200              // mails read, sent and marked at once
	outboxPoll     = time.Second      // how often the outbox is read without a wake-up
	outboxRetry    = time.Second      // the wait before a failed mail's first retry; it doubles
	outboxMaxRetry = 60 * time.Second // the longest wait before a failed mail is tried again
)

// Outbox is the child service that drains the outbox: one task reads the
// unsent mails, oldest first, hands each to the sender, and marks those
// the sender accepted as sent, a batch per transaction. A mail the sender
// refused is tried again later, after 1 s, 2 s, 4 s… up to a minute.
//
// Delivery is at least once: a mail is marked sent only after the sender
// accepted it, so a crash between the two sends it again at the next
// start, with the same idempotency key, which the provider delivers once.
// One drainer runs per process; run one process per data directory.
type Outbox struct {
	sprag.Service
	store  *Store
	sender Sender
	wake   chan struct{} // a pending wake-up; buffered, so Wake never blocks
	poll   time.Duration // the defaults above; tests shorten them
	retry  time.Duration
	batch  int
}

// NewOutbox returns the drainer of store's outbox.
func NewOutbox(store *Store, sender Sender) *Outbox {
	return &Outbox{store: store, sender: sender, wake: make(chan struct{}, 1), poll: outboxPoll, retry: outboxRetry, batch: outboxBatch}
}

// OnStart starts the draining task.
func (b *Outbox) OnStart(context.Context) error {
	_, err := b.Spawn(b.run, sprag.Label("drain"))
	return err
}

// Wake makes the drainer read the outbox now rather than at its next poll.
// It never blocks: wake-ups that come while one is pending are one.
func (b *Outbox) Wake() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *Outbox) run(ctx context.Context) error {
	if n, err := b.store.PendingMail(ctx); err == nil && n > 0 {
		b.Logger().Info("sending the emails left unsent", zap.Int64("emails", n))
	}
	tick := time.NewTicker(b.poll)
	defer tick.Stop()
	for {
		if err := b.drain(ctx); err != nil && ctx.Err() == nil {
			b.Logger().Warn("drain the outbox", zap.Error(err)) // tried again at the next tick
		}
		select {
		case <-ctx.Done():
			return nil
		case <-b.wake:
		case <-tick.C:
		}
	}
}

// drain sends the due mails, a batch at a time, until none is due, a
// whole batch failed, or ctx ends.
func (b *Outbox) drain(ctx context.Context) error {
	for ctx.Err() == nil {
		due, err := b.store.DueMail(ctx, time.Now(), b.batch)
		if err != nil || len(due) == 0 {
			return err
		}
		sent := make([]int64, 0, len(due))
		for _, m := range due {
			if ctx.Err() != nil {
				break
			}
			if err := b.sender.Send(ctx, m.Mail); err != nil {
				b.failed(ctx, m, err)
				continue
			}
			sent = append(sent, m.ID)
		}
		if len(sent) == 0 {
			return nil // every send failed: the next try is at its retry time
		}
		// Record what the provider accepted even when the stop has begun,
		// so that a clean stop sends nothing twice.
		markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		totals, err := b.store.MarkSent(markCtx, sent)
		cancel()
		if err != nil {
			return err
		}
		if err := sprag.EmitTopic(ctx, b, MailSent, totals); err != nil {
			b.Logger().Warn("a listener of sent mail failed", zap.Error(err))
		}
	}
	return nil
}

// failed records a refused send and schedules the next try.
func (b *Outbox) failed(ctx context.Context, m OutboxMail, err error) {
	if ctx.Err() != nil {
		return // the send was cut by the stop: tried again at the next start
	}
	wait := min(b.retry<<min(m.Attempts, 6), outboxMaxRetry)
	b.Logger().Warn("send mail", zap.Int64("order", m.OrderID), zap.Int("attempt", m.Attempts+1),
		zap.Duration("retry_in", wait), zap.Error(err))
	if err := b.store.MarkFailed(ctx, m.ID, err.Error(), time.Now().Add(wait)); err != nil {
		b.Logger().Warn("record a failed send", zap.Int64("order", m.OrderID), zap.Error(err))
	}
}

// APISender posts mail as JSON to a provider's endpoint with a bearer key,
// and the mail's key in the Idempotency-Key header, so that a provider
// that honours it delivers a repeated send once.
type APISender struct {
	URL    string
	Key    string
	Client *http.Client
}

// Send posts m and fails unless the provider answers 2xx.
func (s *APISender) Send(ctx context.Context, m Mail) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Key)
	if m.Key != "" {
		req.Header.Set("Idempotency-Key", m.Key)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // nothing is read from it
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("mail provider answered %s", resp.Status)
	}
	return nil
}
