package httpapi

import "encoding/json"

// An assistant's metadata is free-form JSON the API stores and returns; its
// bounds keep one tenant from storing (and every list from serving)
// arbitrarily large or deep documents.
const (
	maxMetadataDepth = 8         // the object itself is level 1
	maxMetadataBytes = 16 * 1024 // serialized
)

// CheckMetadata bounds an assistant's metadata (nil: not sent): at most
// maxMetadataDepth levels of objects and arrays and maxMetadataBytes as
// JSON. 400 naming metadata.
func CheckMetadata(md *map[string]any) error {
	if md == nil {
		return nil
	}
	if jsonDepth(*md) > maxMetadataDepth {
		return Invalid("metadata", "metadata must be nested at most %d levels deep (objects and arrays)", maxMetadataDepth)
	}
	raw, err := json.Marshal(*md)
	if err != nil {
		return Invalid("metadata", "metadata must be a JSON object")
	}
	if len(raw) > maxMetadataBytes {
		return Invalid("metadata", "metadata must be at most %d bytes as JSON, got %d", maxMetadataBytes, len(raw))
	}
	return nil
}

// jsonDepth is the nesting depth of a decoded JSON value: 0 for a scalar,
// 1 + the deepest element for an object or array. It stops counting past
// maxMetadataDepth+1 so a hostile document costs no more than the check.
func jsonDepth(v any) int {
	return jsonDepthUpTo(v, maxMetadataDepth+1)
}

func jsonDepthUpTo(v any, limit int) int {
	if limit == 0 {
		return 0
	}
	deepest := 0
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			deepest = max(deepest, jsonDepthUpTo(e, limit-1))
		}
	case []any:
		for _, e := range t {
			deepest = max(deepest, jsonDepthUpTo(e, limit-1))
		}
	default:
		return 0
	}
	return 1 + deepest
}
