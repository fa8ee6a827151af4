package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// Order is a placed order.
type Order struct {
	ID         int64     `json:"id"`
	Customer   string    `json:"customer"`
	Email      string    `json:"email"`
	TotalCents int64     `json:"total_cents"`
	PlacedAt   time.Time `json:"placed_at"`
}

// NewOrder is the input of the order actions, from a JSON body or the
// dashboard's form. Amount is a decimal amount of dollars, "19.99".
type NewOrder struct {
	Customer string `json:"customer" validate:"required,max=100"`
	Email    string `json:"email" validate:"required,email,max=254"`
	Amount   string `json:"amount" validate:"required,numeric,max=12"`
}

// maxOrderCents is the largest order taken: $100,000.00.
const maxOrderCents = 100_000_00

// OrderCompleted is emitted by OrderService for every order, once its
// transaction has committed.
var OrderCompleted = eventbus.NewTopic[Placed]("order:completed")

// OrderService takes orders into the orders database, which it opens when
// it starts, migrates, and closes when it stops.
type OrderService struct {
	sprag.Service
	dir   string
	store atomic.Pointer[Store] // set by OnStart; nil before
}

// NewOrderService returns the service of the orders database in
// cfg.DataDir.
func NewOrderService(cfg Config) *OrderService { return &OrderService{dir: cfg.DataDir} }

// OnStart opens the database, creating or migrating its schema, and hands
// it to the service, which closes it when it stops.
func (o *OrderService) OnStart(ctx context.Context) error {
	st, err := OpenStore(ctx, o.dir)
	if err != nil {
		return err
	}
	if err := o.Own(st); err != nil {
		return errors.Join(err, st.Close())
	}
	o.store.Store(st)
	t, err := st.Totals(ctx)
	if err != nil {
		return err
	}
	o.Logger().Info("orders database open", zap.String("path", st.Path()), zap.Int64("orders", t.Orders))
	return nil
}

// Health pings the database.
func (o *OrderService) Health(ctx context.Context) error {
	st := o.store.Load()
	if st == nil {
		return errors.New("the orders database is not open")
	}
	return st.Ping(ctx)
}

// Store returns the orders database, nil before the service started.
func (o *OrderService) Store() *Store { return o.store.Load() }

// Place checks the input past its validate tags (a customer of spaces,
// the amount), stores the order with its confirmation email in one
// transaction, then emits OrderCompleted. A nil error means the order and
// its email are on disk. A listener's failure is logged; the order
// stands.
func (o *OrderService) Place(ctx context.Context, in NewOrder) (Placed, error) {
	customer := strings.TrimSpace(in.Customer)
	cents, msg := parseAmount(in.Amount)
	var fields []controllers.FieldError
	if customer == "" {
		fields = append(fields, controllers.FieldError{Field: "customer", Rule: "required", Message: "is required"})
	}
	if msg != "" {
		fields = append(fields, controllers.FieldError{Field: "amount", Rule: "amount", Message: msg})
	}
	if len(fields) > 0 {
		return Placed{}, &controllers.HTTPError{Status: http.StatusBadRequest, Message: "invalid input", Fields: fields}
	}
	st := o.store.Load()
	if st == nil {
		return Placed{}, errors.New("the orders database is not open")
	}
	placed, err := st.PlaceOrder(ctx, customer, strings.TrimSpace(in.Email), cents, confirmation)
	if err != nil {
		return Placed{}, err
	}
	if err := sprag.EmitTopic(ctx, o, OrderCompleted, placed); err != nil {
		o.Logger().Warn("an order listener failed", zap.Int64("order", placed.Order.ID), zap.Error(err))
	}
	return placed, nil
}

// confirmation is the email an order sends.
func confirmation(o Order) Mail {
	return Mail{
		To:      o.Email,
		Subject: fmt.Sprintf("Order %d confirmed", o.ID),
		Body:    fmt.Sprintf("Thank you, %s: we received your order of %s.", o.Customer, formatMoney(o.TotalCents)),
	}
}

// parseAmount reads a positive amount of dollars with at most two decimals,
// "19.99" or "20", into cents. It returns the reason it refuses s, for the
// field's error, or "".
func parseAmount(s string) (int64, string) {
	const example = "must look like 19.99"
	s = strings.TrimSpace(s)
	whole, frac, hasDot := strings.Cut(s, ".")
	switch {
	case strings.HasPrefix(s, "-"):
		return 0, "must be more than 0"
	case whole == "" || len(frac) > 2 || (hasDot && frac == "") || !allDigits(whole) || !allDigits(frac):
		return 0, example
	case len(whole) > 9: // more than ParseInt's range needs, far more than the limit
		return 0, "must be at most " + formatMoney(maxOrderCents)
	}
	dollars, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, example
	}
	cents := dollars * 100
	if frac != "" {
		f, _ := strconv.Atoi((frac + "0")[:2]) // digits checked above
		cents += int64(f)
	}
	switch {
	case cents <= 0:
		return 0, "must be more than 0"
	case cents > maxOrderCents:
		return 0, "must be at most " + formatMoney(maxOrderCents)
	}
	return cents, ""
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// formatMoney writes cents as dollars with thousands separators:
// "$1,234.50". The page formats amounts again in the reader's locale.
func formatMoney(cents int64) string {
	sign, digits := splitSign(strconv.FormatInt(cents, 10))
	if len(digits) < 3 {
		digits = strings.Repeat("0", 3-len(digits)) + digits
	}
	return sign + "$" + groupDigits(digits[:len(digits)-2]) + "." + digits[len(digits)-2:]
}

// formatCount writes n with thousands separators: "12,345".
func formatCount(n int64) string {
	sign, digits := splitSign(strconv.FormatInt(n, 10))
	return sign + groupDigits(digits)
}

func splitSign(digits string) (sign, rest string) {
	if rest, ok := strings.CutPrefix(digits, "-"); ok {
		return "-", rest
	}
	return "", digits
}

// groupDigits puts a comma between each group of three digits.
func groupDigits(digits string) string {
	var b strings.Builder
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
