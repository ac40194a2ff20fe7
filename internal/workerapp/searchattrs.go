package workerapp

import (
	"context"
	"strings"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"etl2elt/internal/searchattr"
)

// SearchAttributeLister reads a namespace's custom search attributes through the
// client's operator service.
func SearchAttributeLister(c client.Client) searchattr.Lister { return operatorLister{c} }

type operatorLister struct{ c client.Client }

func (l operatorLister) CustomSearchAttributes(ctx context.Context, namespace string) (map[string]string, error) {
	resp, err := l.c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(resp.GetCustomAttributes()))
	for name, typ := range resp.GetCustomAttributes() {
		// "Keyword" or "INDEXED_VALUE_TYPE_KEYWORD", as the API version prints it.
		out[name] = strings.TrimPrefix(typ.String(), "INDEXED_VALUE_TYPE_")
	}
	return out, nil
}
