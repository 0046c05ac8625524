package ethsig

import (
	"math/big"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// TestUncompress checks random keys: the point is on the curve, keeps x and
// has the parity the prefix names (both parities occur across 64 keys).
func TestUncompress(t *testing.T) {
	seen := map[byte]bool{}
	for range 64 {
		_, pub, err := crypto.GenerateSecp256k1Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := pub.Raw()
		xy, err := uncompress(c)
		if err != nil {
			t.Fatal(err)
		}
		x, y := new(big.Int).SetBytes(xy[:32]), new(big.Int).SetBytes(xy[32:])
		lhs := new(big.Int).Exp(y, big.NewInt(2), fieldP)
		rhs := new(big.Int).Exp(x, big.NewInt(3), fieldP)
		rhs.Add(rhs, big.NewInt(7)).Mod(rhs, fieldP)
		if lhs.Cmp(rhs) != 0 || x.Cmp(new(big.Int).SetBytes(c[1:])) != 0 || byte(y.Bit(0)) != c[0]&1 {
			t.Fatalf("bad decompression of %x", c)
		}
		seen[c[0]] = true
	}
	if !seen[2] || !seen[3] {
		t.Log("only one parity seen; unlucky draw")
	}
	for _, bad := range [][]byte{nil, make([]byte, 33), append([]byte{2}, make([]byte, 32)...)} {
		if _, err := uncompress(bad); err == nil { // x = 0 is not on the curve
			t.Errorf("uncompress(%x) accepted", bad)
		}
	}
}
