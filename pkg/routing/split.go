package routing

import (
	"fmt"
	"math"
)

// Split sends a share of a model's traffic to Target: another backend of the same model
// (a Candidate.Name) or another public model.
type Split struct {
	// Percent of the model's keys, in [0,100], with 0.01 resolution.
	Percent float64
	// Target is a candidate backend name or a model name.
	Target string
}

// ArmControl is the arm of requests that fall in no split.
const ArmControl = "control"

// SplitBuckets is the number of hash buckets keys are spread over (0.01% each).
const SplitBuckets = 10000

// Arm says which side of a model's splits a request fell in. Report Name in metrics and
// metadata so the arms can be compared.
type Arm struct {
	// Index is the position of the split in the list, or -1 for control.
	Index int
	// Name is ArmControl or the split's Target.
	Name string
	// Backend is set when the target is one of the candidates: OrderWithArm put it first
	// (if it fits the request and its breaker allows).
	Backend string
	// Model is set when the target is not one of the candidates: the caller should route
	// the request to that model instead (and may append the returned order as fallback).
	Model string
}

// ValidateSplits checks that every percentage is in [0,100], that they add up to at most
// 100 and that every split names a target.
func ValidateSplits(splits []Split) error {
	var sum float64
	for i, s := range splits {
		if s.Target == "" {
			return fmt.Errorf("split %d: target is required", i)
		}
		if math.IsNaN(s.Percent) || s.Percent < 0 || s.Percent > 100 {
			return fmt.Errorf("split %d (%s): percent %v is outside [0,100]", i, s.Target, s.Percent)
		}
		sum += s.Percent
	}
	if sum > 100+1e-9 {
		return fmt.Errorf("splits add up to %v%%, more than 100%%", sum)
	}
	return nil
}

// SplitBucket maps (model, keyID) to a bucket in [0, SplitBuckets). The hash is 64-bit
// FNV-1a over the bytes of model, one 0x00 byte and keyID, passed through the SplitMix64
// finalizer (FNV's low bits alone are poorly mixed for similar keys), taken modulo
// SplitBuckets. Including the model keeps a key's arms independent across models. The
// function is stable across processes and versions: replicas agree and a key keeps its
// arm for as long as the split's percentages do not change.
func SplitBucket(model, keyID string) uint32 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(model); i++ {
		h ^= uint64(model[i])
		h *= prime
	}
	h *= prime // the 0x00 separator: xor with 0 is a no-op
	for i := 0; i < len(keyID); i++ {
		h ^= uint64(keyID[i])
		h *= prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return uint32(h % SplitBuckets)
}

// ChooseArm returns the index of the split keyID falls in, or -1 for control. Splits
// take consecutive bucket ranges in list order ([0, p0), [p0, p0+p1), …). An empty keyID
// (unauthenticated traffic) cannot be sticky, so such requests draw a random bucket: the
// split's share still holds, per request instead of per key.
func ChooseArm(model, keyID string, splits []Split) int {
	if len(splits) == 0 {
		return -1
	}
	var bucket uint32
	if keyID == "" {
		bucket = uint32(randUint64() % SplitBuckets)
	} else {
		bucket = SplitBucket(model, keyID)
	}
	var hi float64
	for i, s := range splits {
		if s.Percent > 0 {
			hi += s.Percent * (SplitBuckets / 100)
		}
		if float64(bucket) < math.Round(hi) {
			return i
		}
	}
	return -1
}

// OrderWithArm is Order for a model with A/B splits. It chooses the arm (ChooseArm with
// info.KeyID) and orders the candidates for it:
//
//   - a split whose Target is a candidate's name puts that candidate first;
//   - in every other arm, split-target candidates sort after all other candidates, so
//     they receive their arm's traffic and otherwise serve only as a last resort;
//   - a split whose Target is no candidate (another model) is returned in Arm.Model;
//     the order is then that of the control arm, for the caller to use as fallback.
//
// The arm is the assignment, not the outcome: a request whose target backend is
// filtered out (context window, open breaker) keeps its arm and goes to the next
// candidate. It allocates nothing beyond what Order does.
func (r *Router) OrderWithArm(strategy, model string, cands []Candidate, splits []Split, info Info, dst []int) ([]int, Arm) {
	if len(splits) == 0 {
		return r.order(strategy, model, cands, info, dst, -1, 0), Arm{Index: -1, Name: ArmControl}
	}
	var demote uint64
	for _, s := range splits {
		if i := candidateIndex(cands, s.Target); i >= 0 && i < 64 {
			demote |= 1 << uint(i)
		}
	}
	arm := Arm{Index: ChooseArm(model, info.KeyID, splits), Name: ArmControl}
	promote := -1
	if arm.Index >= 0 {
		t := splits[arm.Index].Target
		arm.Name = t
		if i := candidateIndex(cands, t); i >= 0 {
			arm.Backend = t
			promote = i
			if i < 64 {
				demote &^= 1 << uint(i)
			}
		} else {
			arm.Model = t
		}
	}
	return r.order(strategy, model, cands, info, dst, promote, demote), arm
}

func candidateIndex(cands []Candidate, name string) int {
	for i := range cands {
		if cands[i].Name == name {
			return i
		}
	}
	return -1
}
