package main

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

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

// NewOrder is the body of the "create" action of OrdersController.
type NewOrder struct {
	Customer   string `json:"customer" validate:"required,max=100"`
	Email      string `json:"email" validate:"required,email"`
	TotalCents int64  `json:"total_cents" validate:"gt=0"`
}

// OrderCompleted is emitted by OrderService for every order it takes.
var OrderCompleted = eventbus.NewTopic[Order]("order:completed")

const recentOrders = 20

// OrderService takes orders and announces them on the bus.
type OrderService struct {
	sprag.Service

	mu     sync.Mutex
	nextID int64
	recent []Order // the last recentOrders orders, newest last
	taken  int64
}

// NewOrderService returns the service.
func NewOrderService() *OrderService { return &OrderService{} }

// OnStart registers a cleanup that reports how many orders were taken.
func (o *OrderService) OnStart(context.Context) error {
	return o.AddCleanup(func(context.Context) error {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.Logger().Info("orders taken while running", zap.Int64("orders", o.taken))
		return nil
	})
}

// Place records an order and emits OrderCompleted. A listener's failure is
// logged by the listener's service; the order stands.
func (o *OrderService) Place(ctx context.Context, in NewOrder) (Order, error) {
	o.mu.Lock()
	o.nextID++
	o.taken++
	order := Order{ID: o.nextID, Customer: in.Customer, Email: in.Email, TotalCents: in.TotalCents, PlacedAt: time.Now().UTC()}
	o.recent = append(o.recent, order)
	if len(o.recent) > recentOrders {
		o.recent = o.recent[1:]
	}
	o.mu.Unlock()

	if err := sprag.EmitTopic(ctx, o, OrderCompleted, order); err != nil {
		o.Logger().Warn("an order listener failed", zap.Int64("order", order.ID), zap.Error(err))
	}
	return order, nil
}

// Recent returns the last orders, newest first.
func (o *OrderService) Recent() []Order {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Order, len(o.recent))
	for i, order := range o.recent {
		out[len(out)-1-i] = order
	}
	return out
}
