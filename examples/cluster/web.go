package main

import (
	"context"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
)

// Batch is the body of the actions: the items first..first+count-1.
type Batch struct {
	First int `json:"first" validate:"gte=0"`
	Count int `json:"count" validate:"gt=0,lte=10000"`
}

// GreetingsParams is what GreetingsController takes.
type GreetingsParams struct {
	fx.In
	Greetings *Greetings `name:"greetings"`
}

// GreetingsController sends greetings: POST /greetings/send.
type GreetingsController struct{ greetings *Greetings }

// NewGreetingsController is the controller's constructor.
func NewGreetingsController(p GreetingsParams) *GreetingsController {
	return &GreetingsController{greetings: p.Greetings}
}

// Route is the controller's pattern.
func (c *GreetingsController) Route() string { return "GET /greetings" }

// Load says what the controller does.
func (c *GreetingsController) Load(context.Context, *controllers.Request) (any, error) {
	return map[string]string{"send": "POST /greetings/send {first, count}"}, nil
}

// Actions lists the controller's actions.
func (c *GreetingsController) Actions() []*controllers.ActionHandler {
	return []*controllers.ActionHandler{
		controllers.Action("send", func(ctx context.Context, _ *controllers.Request, b Batch) (any, error) {
			return b, c.greetings.Send(ctx, b.First, b.Count)
		}),
	}
}

// EmailsParams is what EmailsController takes.
type EmailsParams struct {
	fx.In
	Mailer *Mailer `name:"mailer"`
}

// EmailsController queues emails: POST /emails/push.
type EmailsController struct{ mailer *Mailer }

// NewEmailsController is the controller's constructor.
func NewEmailsController(p EmailsParams) *EmailsController {
	return &EmailsController{mailer: p.Mailer}
}

// Route is the controller's pattern.
func (c *EmailsController) Route() string { return "GET /emails" }

// Load returns the queue's figures on this replica.
func (c *EmailsController) Load(context.Context, *controllers.Request) (any, error) {
	return c.mailer.queue.Stats(), nil
}

// Actions lists the controller's actions.
func (c *EmailsController) Actions() []*controllers.ActionHandler {
	return []*controllers.ActionHandler{
		controllers.Action("push", func(ctx context.Context, _ *controllers.Request, b Batch) (any, error) {
			return b, c.mailer.Push(ctx, b.First, b.Count)
		}),
	}
}
