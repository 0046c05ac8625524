package benchmarks

import "testing"

// Each scenario of the suite as a go test benchmark:
//
//	go test -run '^$' -bench . -benchtime 3s ./benchmarks/

func BenchmarkInsertOne(b *testing.B)                { InsertOne(b) }
func BenchmarkInsertOneSyncWrites(b *testing.B)      { InsertOneSyncWrites(b) }
func BenchmarkInsertOneSchema(b *testing.B)          { InsertOneSchema(b) }
func BenchmarkInsertOneConcurrent16(b *testing.B)    { InsertOneConcurrent16(b) }
func BenchmarkInsertMany(b *testing.B)               { InsertMany(b) }
func BenchmarkRawCRDTPut(b *testing.B)               { RawCRDTPut(b) }
func BenchmarkRawCRDTBatch(b *testing.B)             { RawCRDTBatch(b) }
func BenchmarkFindByID(b *testing.B)                 { FindByID(b) }
func BenchmarkIndexedFind(b *testing.B)              { IndexedFind(b) }
func BenchmarkReplicate10k(b *testing.B)             { Replicate10k(b) }
func BenchmarkConverge5x1000(b *testing.B)           { Converge5x1000(b) }
func BenchmarkLateJoin2k(b *testing.B)               { LateJoin2k(b) }
func BenchmarkLateJoin2kBitswap(b *testing.B)        { LateJoin2kBitswap(b) }
func BenchmarkLateJoin10k(b *testing.B)              { LateJoin10k(b) }
func BenchmarkLateJoin100k(b *testing.B)             { LateJoin100k(b) }
func BenchmarkLateJoin1M(b *testing.B)               { LateJoin1M(b) }
func BenchmarkLateJoin100kBitswap(b *testing.B)      { LateJoin100kBitswap(b) }
func BenchmarkRestartCatchUp300(b *testing.B)        { RestartCatchUp300(b) }
func BenchmarkRestartCatchUp300Bitswap(b *testing.B) { RestartCatchUp300Bitswap(b) }
func BenchmarkUpdateNested(b *testing.B)             { UpdateNested(b) }

func BenchmarkInsertOneSealed(b *testing.B)    { InsertOneSealed(b) }
func BenchmarkLateJoin2kSealed(b *testing.B)   { LateJoin2kSealed(b) }
func BenchmarkLateJoin10kSealed(b *testing.B)  { LateJoin10kSealed(b) }
func BenchmarkLateJoin100kSealed(b *testing.B) { LateJoin100kSealed(b) }
