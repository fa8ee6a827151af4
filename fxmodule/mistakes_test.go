package fxmodule_test

// The code of the wiring mistakes that TestWiringErrors makes, and their
// fixes. docs/wiring-errors.md copies it.

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// Catalog is a service that others take.
type Catalog struct{ sprag.Service }

func NewCatalog() *Catalog { return &Catalog{} }

// NewCatalogValue returns a Catalog, not a *Catalog.
func NewCatalogValue() Catalog { return Catalog{} }

// Cart embeds a pointer to sprag.Service, not sprag.Service itself.
type Cart struct{ *sprag.Service }

func NewCart() *Cart { return &Cart{} }

// Prices does not embed sprag.Service.
type Prices struct{ table map[string]int }

func NewPrices() *Prices { return &Prices{table: map[string]int{}} }

// NewCatalogLater has no catalog to return yet.
func NewCatalogLater() *Catalog { return nil }

// CatalogConfig is what NewCatalogFrom needs.
type CatalogConfig struct{ Path string }

func NewCatalogFrom(cfg CatalogConfig) (*Catalog, error) {
	if cfg.Path == "" {
		return nil, errors.New("CATALOG_PATH is not set")
	}
	return &Catalog{}, nil
}

// ShopParams is what NewShopPage takes: the catalog, by its name.
type ShopParams struct {
	fx.In
	Catalog *Catalog `name:"catlog"`
}

// ShopPage is a controller that shows the catalog.
type ShopPage struct{ catalog *Catalog }

func NewShopPage(p ShopParams) *ShopPage { return &ShopPage{catalog: p.Catalog} }

func (*ShopPage) Route() string { return "GET /shop" }

func (s *ShopPage) Load(context.Context, *controllers.Request) (any, error) {
	return s.catalog.Name(), nil
}

// ShopParamsFixed names the catalog right.
type ShopParamsFixed struct {
	fx.In
	Catalog *Catalog `name:"catalog"`
}

func NewShopPageFixed(p ShopParamsFixed) *ShopPage { return &ShopPage{catalog: p.Catalog} }

// Checkout takes the catalog by its type.
type Checkout struct {
	sprag.Service
	catalog *Catalog
}

func NewCheckout(catalog *Catalog) *Checkout { return &Checkout{catalog: catalog} }

// Pricer is how others see PriceList.
type Pricer interface{ Price(item string) int }

// PriceList is a service that can be seen as a Pricer.
type PriceList struct{ sprag.Service }

func NewPriceList() *PriceList { return &PriceList{} }

func (*PriceList) Price(string) int { return 100 }

// QuoteParams takes the price list as a Pricer, by its name.
type QuoteParams struct {
	fx.In
	Prices Pricer `name:"prices"`
}

// Quotes is a service that takes a Pricer.
type Quotes struct {
	sprag.Service
	prices Pricer
}

func NewQuotes(p QuoteParams) *Quotes { return &Quotes{prices: p.Prices} }

// PaymentsParams and InvoicesParams make Payments and Invoices take each
// other.
type PaymentsParams struct {
	fx.In
	Invoices *Invoices `name:"invoices"`
}

type InvoicesParams struct {
	fx.In
	Payments *Payments `name:"payments"`
}

type Payments struct{ sprag.Service }

type Invoices struct {
	sprag.Service
	registry *sprag.Registry
	payments *Payments
}

func NewPayments(PaymentsParams) *Payments { return &Payments{} }

func NewInvoices(InvoicesParams) *Invoices { return &Invoices{} }

// NewPaymentsFixed no longer takes the invoices.
func NewPaymentsFixed() *Payments { return &Payments{} }

// NewInvoicesFixed takes the registry and finds the payments when it starts.
func NewInvoicesFixed(registry *sprag.Registry) *Invoices {
	return &Invoices{registry: registry}
}

func (i *Invoices) OnStart(ctx context.Context) error {
	if i.registry == nil {
		return nil
	}
	payments, err := sprag.Get[*Payments](i.registry, "payments")
	if err != nil {
		return err
	}
	i.payments = payments
	return nil
}

// ReportsParams takes the catalogs that fx.Provide puts in a group.
type ReportsParams struct {
	fx.In
	Catalogs []*Catalog `group:"catalogs"`
}

// Reports is a service that takes catalogs from a group.
type Reports struct {
	sprag.Service
	catalogs []*Catalog
}

func NewReports(p ReportsParams) *Reports { return &Reports{catalogs: p.Catalogs} }

// Archive takes catalogs from a group too, and adopts them.
type Archive struct {
	sprag.Service
	catalogs []*Catalog
}

func NewArchive(p ReportsParams) *Archive { return &Archive{catalogs: p.Catalogs} }

// OnStart adopts the catalogs: they start now, and stop with the archive.
func (a *Archive) OnStart(ctx context.Context) error {
	for i, c := range a.catalogs {
		if err := a.Adopt(ctx, fmt.Sprintf("catalog-%d", i), c); err != nil {
			return err
		}
	}
	return nil
}

// catalogInGroup provides a catalog in the group "catalogs", not as a
// service.
var catalogInGroup = fx.Provide(fx.Annotate(NewCatalog, fx.ResultTags(`group:"catalogs"`)))

// The options of mistakes that need no code of their own: the messages
// name the line of the call of fxmodule.Service.
var (
	nilConstructor      = fxmodule.Service("catalog", nil)
	nilFunction         = fxmodule.Service("catalog", (func() *Catalog)(nil))
	notAFunction        = fxmodule.Service("catalog", Catalog{})
	refusedAnnotation   = fxmodule.Service("catalog", fx.Annotate(NewCatalog, fx.ParamTags(`nom:"x"`)))
	catalogAndCount     = fxmodule.Service("catalog", func() (*Catalog, int) { return nil, 0 })
	catalogFromCatalog  = fxmodule.Service("catalog", func(*Catalog) *Catalog { return &Catalog{} })
	controllerOfCatalog = fxmodule.Controllers(NewCatalog)
)

// StockParams has a field that fx cannot fill: it is unexported.
type StockParams struct {
	fx.In
	catalog *Catalog `name:"catalog"`
}

// Stock is a service that takes the catalog.
type Stock struct {
	sprag.Service
	catalog *Catalog
}

func NewStock(p StockParams) *Stock { return &Stock{catalog: p.catalog} }

// StockParamsFixed exports the field.
type StockParamsFixed struct {
	fx.In
	Catalog *Catalog `name:"catalog"`
}

func NewStockFixed(p StockParamsFixed) *Stock { return &Stock{catalog: p.Catalog} }
