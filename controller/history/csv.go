package history

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// csvHeader names the columns of the CSV export, one per Record field.
var csvHeader = []string{"call_id", "account", "direction", "from", "to", "start", "duration", "status", "code", "cost", "device", "quality", "record_url", "release"}

// CSVWriter writes records as CSV (RFC 4180) with a header line, for a
// spreadsheet: times in RFC 3339 UTC, cost as a decimal.
type CSVWriter struct {
	w      *csv.Writer
	header bool
}

// NewCSVWriter writes to w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(w)} }

// Write writes records, the header first.
func (c *CSVWriter) Write(records []Record) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(csvHeader); err != nil {
			return fmt.Errorf("write CSV: %w", err)
		}
	}
	for _, r := range records {
		quality := ""
		if r.Quality > 0 {
			quality = strconv.FormatFloat(r.Quality, 'f', -1, 64)
		}
		row := []string{
			r.CallID, r.Account, r.Direction, r.From, r.To, r.Start.UTC().Format(time.RFC3339),
			strconv.FormatInt(r.Duration, 10), r.Status, strconv.Itoa(r.Code), FormatCost(r.Cost),
			r.Device, quality, r.RecordURL, r.Release,
		}
		if err := c.w.Write(row); err != nil {
			return fmt.Errorf("write CSV: %w", err)
		}
	}
	return nil
}

// Flush writes what is buffered; a header alone when no record came.
func (c *CSVWriter) Flush() error {
	if !c.header {
		if err := c.Write(nil); err != nil {
			return err
		}
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}
