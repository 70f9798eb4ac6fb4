package routing

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitBucketPinned(t *testing.T) {
	// The hash is a contract between replicas and across upgrades: changing it moves
	// keys between arms mid-experiment. These values pin it.
	require.Equal(t, SplitBucket("gpt-4o", "key-1"), SplitBucket("gpt-4o", "key-1"))
	require.Equal(t, [4]uint32{2021, 3872, 2448, 4608}, [4]uint32{
		SplitBucket("gpt-4o", "key-1"),
		SplitBucket("gpt-4o", "key-2"),
		SplitBucket("claude", "key-1"),
		SplitBucket("", ""),
	})
	// The separator makes ("ab","c") and ("a","bc") different inputs.
	require.NotEqual(t, SplitBucket("ab", "c"), SplitBucket("a", "bc"))
}

func TestChooseArmDistributionAndStickiness(t *testing.T) {
	splits := []Split{{Percent: 10, Target: "b"}}
	const n = 20000
	inB := 0
	for i := 0; i < n; i++ {
		arm := ChooseArm("m", keyName(i), splits)
		if arm == 0 {
			inB++
		}
		// Sticky: the same key always gets the same arm.
		for k := 0; k < 3; k++ {
			require.Equal(t, arm, ChooseArm("m", keyName(i), splits))
		}
	}
	require.InDelta(t, 0.10, float64(inB)/n, 0.015, "%d of %d", inB, n)

	// Another model assigns the same keys independently.
	overlap := 0
	for i := 0; i < n; i++ {
		if ChooseArm("m", keyName(i), splits) == 0 && ChooseArm("other", keyName(i), splits) == 0 {
			overlap++
		}
	}
	require.InDelta(t, 0.01, float64(overlap)/n, 0.005)
}

func TestChooseArmSeveralSplits(t *testing.T) {
	splits := []Split{{Percent: 20, Target: "x"}, {Percent: 0, Target: "never"}, {Percent: 30, Target: "y"}}
	const n = 20000
	count := map[int]int{}
	for i := 0; i < n; i++ {
		count[ChooseArm("m", keyName(i), splits)]++
	}
	require.Zero(t, count[1])
	require.InDelta(t, 0.20, float64(count[0])/n, 0.015)
	require.InDelta(t, 0.30, float64(count[2])/n, 0.015)
	require.InDelta(t, 0.50, float64(count[-1])/n, 0.015)

	require.Equal(t, -1, ChooseArm("m", "k", nil))
	all := []Split{{Percent: 100, Target: "x"}}
	for i := 0; i < 1000; i++ {
		require.Equal(t, 0, ChooseArm("m", keyName(i), all))
	}
}

func TestChooseArmAnonymousIsRandom(t *testing.T) {
	splits := []Split{{Percent: 25, Target: "b"}}
	const n = 20000
	inB := 0
	for i := 0; i < n; i++ {
		if ChooseArm("m", "", splits) == 0 {
			inB++
		}
	}
	require.InDelta(t, 0.25, float64(inB)/n, 0.015)
}

func TestValidateSplits(t *testing.T) {
	tests := []struct {
		splits []Split
		err    string
	}{
		{nil, ""},
		{[]Split{{Percent: 60, Target: "a"}, {Percent: 40, Target: "b"}}, ""},
		{[]Split{{Percent: 10}}, "target is required"},
		{[]Split{{Percent: -1, Target: "a"}}, "outside [0,100]"},
		{[]Split{{Percent: math.NaN(), Target: "a"}}, "outside [0,100]"},
		{[]Split{{Percent: 101, Target: "a"}}, "outside [0,100]"},
		{[]Split{{Percent: 60, Target: "a"}, {Percent: 41, Target: "b"}}, "more than 100%"},
	}
	for _, tc := range tests {
		err := ValidateSplits(tc.splits)
		if tc.err == "" {
			require.NoError(t, err)
		} else {
			require.ErrorContains(t, err, tc.err)
		}
	}
}

// keyInArm finds a key that falls in the wanted arm.
func keyInArm(t *testing.T, model string, splits []Split, want int) string {
	t.Helper()
	for i := 0; i < 100000; i++ {
		if ChooseArm(model, keyName(i), splits) == want {
			return keyName(i)
		}
	}
	t.Fatalf("no key in arm %d", want)
	return ""
}

func TestOrderWithArmBackendTarget(t *testing.T) {
	r := New(Options{})
	cs := []Candidate{{Name: "stable"}, {Name: "other"}, {Name: "canary"}, {Name: "fallback", Priority: 1}}
	splits := []Split{{Percent: 10, Target: "canary"}}

	bKey := keyInArm(t, "m", splits, 0)
	got, arm := r.OrderWithArm(StrategyPriority, "m", cs, splits, Info{KeyID: bKey}, nil)
	require.Equal(t, Arm{Index: 0, Name: "canary", Backend: "canary"}, arm)
	require.Equal(t, []string{"canary", "stable", "other", "fallback"}, names(cs, got))

	aKey := keyInArm(t, "m", splits, -1)
	got, arm = r.OrderWithArm(StrategyPriority, "m", cs, splits, Info{KeyID: aKey}, nil)
	require.Equal(t, Arm{Index: -1, Name: ArmControl}, arm)
	// Control never picks the canary first; it stays as a last resort.
	require.Equal(t, []string{"stable", "other", "fallback", "canary"}, names(cs, got))

	// The control arm with a strategy: the canary never comes first.
	for i := 0; i < 500; i++ {
		got, _ = r.OrderWithArm(StrategyWeighted, "m", cs, splits, Info{KeyID: aKey}, got[:0])
		require.NotEqual(t, "canary", cs[got[0]].Name)
		require.Equal(t, "canary", cs[got[3]].Name)
	}

	// The canary's breaker is open: the B arm keeps its label but goes elsewhere.
	fail(r, "canary", 5)
	got, arm = r.OrderWithArm(StrategyPriority, "m", cs, splits, Info{KeyID: bKey}, nil)
	require.Equal(t, "canary", arm.Name)
	require.Equal(t, []string{"stable", "other", "fallback"}, names(cs, got))
}

func TestOrderWithArmModelTarget(t *testing.T) {
	r := New(Options{})
	cs := []Candidate{{Name: "a"}, {Name: "b"}}
	splits := []Split{{Percent: 50, Target: "gpt-next"}}
	key := keyInArm(t, "m", splits, 0)
	got, arm := r.OrderWithArm(StrategyPriority, "m", cs, splits, Info{KeyID: key}, nil)
	require.Equal(t, Arm{Index: 0, Name: "gpt-next", Model: "gpt-next"}, arm)
	require.Equal(t, []string{"a", "b"}, names(cs, got), "control order, as fallback")

	got, arm = r.OrderWithArm(StrategyPriority, "m", cs, nil, Info{KeyID: key}, nil)
	require.Equal(t, Arm{Index: -1, Name: ArmControl}, arm)
	require.Equal(t, []string{"a", "b"}, names(cs, got))
}

func TestOrderWithArmTwoBackendArms(t *testing.T) {
	r := New(Options{})
	cs := []Candidate{{Name: "base"}, {Name: "x"}, {Name: "y"}}
	splits := []Split{{Percent: 30, Target: "x"}, {Percent: 30, Target: "y"}}
	got, arm := r.OrderWithArm(StrategyPriority, "m", cs, splits, Info{KeyID: keyInArm(t, "m", splits, 1)}, nil)
	require.Equal(t, "y", arm.Name)
	require.Equal(t, []string{"y", "base", "x"}, names(cs, got), "the other arm's target is demoted")
}
