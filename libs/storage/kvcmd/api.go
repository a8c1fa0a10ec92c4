package kvcmd

// Op is the kind of a Command.
type Op uint8

const (
	OpPut Op = iota + 1
	OpDelete
	OpDeleteRange
	OpBatchPut
	OpBatchDelete
	OpCAS
)

// Pair is one key and value of a batch put.
type Pair struct {
	Key   []byte
	Value []byte
}

// Command is one client write. Which fields are used depends on Op:
//
//	OpPut: Key, Value          OpDelete: Key
//	OpDeleteRange: Key, EndKey OpBatchPut: Pairs   OpBatchDelete: Keys
//	OpCAS: Key, Value, ExpectedVersion, Delete (delete-if-version)
type Command struct {
	Op              Op
	Key             []byte
	EndKey          []byte
	Value           []byte
	Pairs           []Pair
	Keys            [][]byte
	ExpectedVersion uint64
	Delete          bool
}

// Result is the outcome of applying one Command.
//
//	OpPut: Version is the new version.
//	OpBatchPut: Versions holds the new version of each pair.
//	OpCAS: Succeeded; on success Version/Value are the new ones (Version 0
//	after a delete); on conflict they are the current ones (0 = absent).
//	OpPut, OpBatchPut, OpDelete, OpBatchDelete, OpDeleteRange: Succeeded is
//	always true (deleting an absent key is not an error).
type Result struct {
	Succeeded bool
	Version   uint64
	Value     []byte
	Versions  []uint64
}
