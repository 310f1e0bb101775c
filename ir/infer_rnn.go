package ir

// Shape functions of the recurrent operators LSTM, GRU and RNN.

func init() {
	registerInfer(DomainONNX, inferRNN, "LSTM", "GRU", "RNN")
}

func inferRNN(c *nodeCtx) {
	dt := c.sameElemTypes(0, 1, 2)
	gates := map[string]int64{"LSTM": 4, "GRU": 3, "RNN": 1}[c.n.OpType]
	x, w, r := c.shape(0), c.shape(1), c.shape(2)
	dirs := int64(1)
	switch dir := c.attrs.String("direction", "forward"); dir {
	case "forward", "reverse":
	case "bidirectional":
		dirs = 2
	default:
		c.errorf("direction %q is not forward, reverse or bidirectional", dir)
		return
	}
	nd := dimOf(dirs)
	for _, i := range []int{1, 2} {
		if s := c.shape(i); s != nil {
			if len(s) != 3 {
				c.errorf("%s is not 3-D", c.desc(i))
				return
			}
			if conflict(s[0], nd) {
				c.errorf("%s has %v directions, want %d", c.desc(i), s[0], dirs)
				return
			}
		}
	}
	hidden := unknownDim
	switch {
	case c.attrs.Has("hidden_size"):
		hidden = dimOf(c.attrs.Int("hidden_size", 0))
	case r != nil && r[2].Known():
		hidden = r[2]
	case w != nil && w[1].Known():
		hidden = dimOf(w[1].Value / gates)
	}
	if w != nil && hidden.Known() && conflict(w[1], dimOf(gates*hidden.Value)) {
		c.errorf("%s has %v rows, want %d gates × hidden size %d", c.desc(1), w[1], gates, hidden.Value)
		return
	}
	layout := c.attrs.Int("layout", 0)
	seq, batch, in := unknownDim, unknownDim, unknownDim
	if x != nil {
		if len(x) != 3 {
			c.errorf("%s is not 3-D", c.desc(0))
			return
		}
		seq, batch, in = x[0], x[1], x[2]
		if layout != 0 {
			seq, batch = batch, seq
		}
	}
	if w != nil && conflict(w[2], in) {
		c.errorf("%s has input size %v but %s has %v", c.desc(1), w[2], c.desc(0), in)
		return
	}
	if layout == 0 {
		c.setTensor(0, dt, Shape{seq, nd, batch, hidden})
	} else {
		c.setTensor(0, dt, Shape{batch, seq, nd, hidden})
	}
	for i := 1; i < len(c.out); i++ {
		if layout == 0 {
			c.setTensor(i, dt, Shape{nd, batch, hidden})
		} else {
			c.setTensor(i, dt, Shape{batch, nd, hidden})
		}
	}
}
