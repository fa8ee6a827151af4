package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag"
)

// Mail is one message to send.
type Mail struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// Sender sends mail.
type Sender interface {
	Send(ctx context.Context, m Mail) error
}

// EmailService sends an order confirmation for every completed order. Its
// API key comes from EMAIL_KEY; without one it logs the mail it would send
// instead of failing. Mail goes through a child service, the outbox, which
// sends on a task of its own so that a slow provider never slows the order
// that triggered the mail.
type EmailService struct {
	sprag.Service
	sender Sender
	outbox *Outbox
}

// NewEmailService reads EMAIL_KEY (and EMAIL_API_URL, the provider's send
// endpoint) from the environment.
func NewEmailService() *EmailService {
	svc := &EmailService{}
	if key := os.Getenv("EMAIL_KEY"); key != "" {
		url := os.Getenv("EMAIL_API_URL")
		if url == "" {
			url = "https://api.mail.example/v1/send"
		}
		svc.sender = &APISender{URL: url, Key: key, Client: &http.Client{Timeout: 10 * time.Second}}
	} else {
		svc.sender = logSender{svc: &svc.Service}
	}
	return svc
}

// OnStart adopts the outbox and subscribes to completed orders.
func (e *EmailService) OnStart(ctx context.Context) error {
	if _, ok := e.sender.(logSender); ok {
		e.Logger().Warn("EMAIL_KEY is not set: mail will be logged, not sent")
	}
	e.outbox = &Outbox{sender: e.sender, queue: make(chan Mail, 64)}
	if err := e.Adopt(ctx, "outbox", e.outbox); err != nil {
		return err
	}
	_, err := sprag.ListenTopic(e, OrderCompleted, func(_ context.Context, o Order) error {
		return e.outbox.Post(Mail{
			To:      o.Email,
			Subject: fmt.Sprintf("Order %d confirmed", o.ID),
			Body:    fmt.Sprintf("Thank you, %s: we received your order of %d.%02d.", o.Customer, o.TotalCents/100, o.TotalCents%100),
		})
	})
	return err
}

// Outbox is a child service that sends queued mail on its own task.
type Outbox struct {
	sprag.Service
	sender Sender
	queue  chan Mail
}

// OnStart starts the sending task.
func (b *Outbox) OnStart(context.Context) error {
	_, err := b.Spawn(b.run, sprag.Label("send"))
	return err
}

// Post queues m, or reports a full outbox at once.
func (b *Outbox) Post(m Mail) error {
	select {
	case b.queue <- m:
		return nil
	default:
		return fmt.Errorf("outbox full: mail to %s not queued", m.To)
	}
}

func (b *Outbox) run(ctx context.Context) error {
	for {
		select {
		case m := <-b.queue:
			if err := b.sender.Send(ctx, m); err != nil {
				b.Logger().Error("send mail", zap.String("to", m.To), zap.Error(err))
			}
		case <-ctx.Done():
			if n := len(b.queue); n > 0 {
				b.Logger().Warn("mail left unsent at stop", zap.Int("mails", n))
			}
			return nil
		}
	}
}

// logSender logs mail instead of sending it.
type logSender struct{ svc *sprag.Service }

func (s logSender) Send(_ context.Context, m Mail) error {
	s.svc.Logger().Info("would send mail", zap.String("to", m.To), zap.String("subject", m.Subject))
	return nil
}

// APISender posts mail as JSON to a provider's endpoint with a bearer key.
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
