;; The training step's two heavy loops, in WebAssembly SIMD (f32x4), for src/train/fast-pair.ts.
;; Build: `npx tsx scripts/build-train-wasm.ts` (needs wabt's wat2wasm) writes kernels-wasm.ts.
;; Pointers are byte offsets into the imported memory; counts are in floats.
(module
  (import "env" "mem" (memory 1))

  ;; Adam, exactly as tfjs-core's AdamOptimizer.applyGradients, op for op in float32:
  ;;   m ← m·β1 + g·c1;  v ← v·β2 + g²·c2;  w ← (m/d1) / (√(v/d2) + ε) · (−lr) + w
  ;; with c1 = 1−β1, c2 = 1−β2, d1 = 1−β1^t, d2 = 1−β2^t. n is a multiple of 4.
  (func (export "adam")
    (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
    (param $neglr f32) (param $b1 f32) (param $b2 f32) (param $c1 f32) (param $c2 f32)
    (param $d1 f32) (param $d2 f32) (param $eps f32)
    (local $i i32) (local $end i32) (local $g4 v128) (local $m4 v128) (local $v4 v128)
    (local $B1 v128) (local $B2 v128) (local $C1 v128) (local $C2 v128) (local $D1 v128) (local $D2 v128)
    (local $E v128) (local $L v128)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $D1 (f32x4.splat (local.get $d1)))
    (local.set $D2 (f32x4.splat (local.get $d2)))
    (local.set $E (f32x4.splat (local.get $eps)))
    (local.set $L (f32x4.splat (local.get $neglr)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $g4 (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m4 (f32x4.add
          (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $i))) (local.get $B1))
          (f32x4.mul (local.get $g4) (local.get $C1))))
        (local.set $v4 (f32x4.add
          (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (local.get $B2))
          (f32x4.mul (f32x4.mul (local.get $g4) (local.get $g4)) (local.get $C2))))
        (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $m4))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $v4))
        (v128.store (i32.add (local.get $w) (local.get $i))
          (f32x4.add
            (f32x4.mul
              (f32x4.div
                (f32x4.div (local.get $m4) (local.get $D1))
                (f32x4.add (f32x4.sqrt (f32x4.div (local.get $v4) (local.get $D2))) (local.get $E)))
              (local.get $L))
            (v128.load (i32.add (local.get $w) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  ;; C[m, n] (+)= Σ_k A[m·sar + k·sac] · B[k·N + n] for m < M, n < N (N a multiple of 4).
  ;; A's strides (in floats) let the same loop read A or its transpose; `acc` 0 overwrites C.
  ;; Columns go 16 at a time in four registers, then 4 at a time.
  (func (export "gemm")
    (param $c i32) (param $a i32) (param $b i32) (param $M i32) (param $K i32) (param $N i32)
    (param $sar i32) (param $sac i32) (param $acc i32)
    (local $mi i32) (local $nb i32) (local $k i32) (local $arow i32) (local $crow i32)
    (local $ap i32) (local $bp i32) (local $astep i32) (local $bstep i32) (local $cp i32)
    (local $s v128) (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local.set $astep (i32.shl (local.get $sac) (i32.const 2)))
    (local.set $bstep (i32.shl (local.get $N) (i32.const 2)))
    (local.set $mi (i32.const 0))
    (block $mdone
      (loop $mloop
        (br_if $mdone (i32.ge_u (local.get $mi) (local.get $M)))
        (local.set $arow (i32.add (local.get $a) (i32.shl (i32.mul (local.get $mi) (local.get $sar)) (i32.const 2))))
        (local.set $crow (i32.add (local.get $c) (i32.shl (i32.mul (local.get $mi) (local.get $N)) (i32.const 2))))
        (local.set $nb (i32.const 0))
        ;; 16 columns at a time
        (block $n16done
          (loop $n16
            (br_if $n16done (i32.gt_u (i32.add (local.get $nb) (i32.const 16)) (local.get $N)))
            (local.set $cp (i32.add (local.get $crow) (i32.shl (local.get $nb) (i32.const 2))))
            (if (local.get $acc)
              (then
                (local.set $x0 (v128.load offset=0 (local.get $cp)))
                (local.set $x1 (v128.load offset=16 (local.get $cp)))
                (local.set $x2 (v128.load offset=32 (local.get $cp)))
                (local.set $x3 (v128.load offset=48 (local.get $cp))))
              (else
                (local.set $x0 (v128.const i32x4 0 0 0 0))
                (local.set $x1 (v128.const i32x4 0 0 0 0))
                (local.set $x2 (v128.const i32x4 0 0 0 0))
                (local.set $x3 (v128.const i32x4 0 0 0 0))))
            (local.set $ap (local.get $arow))
            (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $nb) (i32.const 2))))
            (local.set $k (i32.const 0))
            (block $kdone
              (loop $kloop
                (br_if $kdone (i32.ge_u (local.get $k) (local.get $K)))
                (local.set $s (f32x4.splat (f32.load (local.get $ap))))
                (local.set $x0 (f32x4.add (local.get $x0) (f32x4.mul (local.get $s) (v128.load offset=0 (local.get $bp)))))
                (local.set $x1 (f32x4.add (local.get $x1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $bp)))))
                (local.set $x2 (f32x4.add (local.get $x2) (f32x4.mul (local.get $s) (v128.load offset=32 (local.get $bp)))))
                (local.set $x3 (f32x4.add (local.get $x3) (f32x4.mul (local.get $s) (v128.load offset=48 (local.get $bp)))))
                (local.set $ap (i32.add (local.get $ap) (local.get $astep)))
                (local.set $bp (i32.add (local.get $bp) (local.get $bstep)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kloop)))
            (v128.store offset=0 (local.get $cp) (local.get $x0))
            (v128.store offset=16 (local.get $cp) (local.get $x1))
            (v128.store offset=32 (local.get $cp) (local.get $x2))
            (v128.store offset=48 (local.get $cp) (local.get $x3))
            (local.set $nb (i32.add (local.get $nb) (i32.const 16)))
            (br $n16)))
        ;; the remaining columns, 4 at a time
        (block $n4done
          (loop $n4
            (br_if $n4done (i32.gt_u (i32.add (local.get $nb) (i32.const 4)) (local.get $N)))
            (local.set $cp (i32.add (local.get $crow) (i32.shl (local.get $nb) (i32.const 2))))
            (if (local.get $acc)
              (then (local.set $x0 (v128.load (local.get $cp))))
              (else (local.set $x0 (v128.const i32x4 0 0 0 0))))
            (local.set $ap (local.get $arow))
            (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $nb) (i32.const 2))))
            (local.set $k (i32.const 0))
            (block $k4done
              (loop $k4loop
                (br_if $k4done (i32.ge_u (local.get $k) (local.get $K)))
                (local.set $x0 (f32x4.add (local.get $x0)
                  (f32x4.mul (f32x4.splat (f32.load (local.get $ap))) (v128.load (local.get $bp)))))
                (local.set $ap (i32.add (local.get $ap) (local.get $astep)))
                (local.set $bp (i32.add (local.get $bp) (local.get $bstep)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $k4loop)))
            (v128.store (local.get $cp) (local.get $x0))
            (local.set $nb (i32.add (local.get $nb) (i32.const 4)))
            (br $n4)))
        (local.set $mi (i32.add (local.get $mi) (i32.const 1)))
        (br $mloop))))

  ;; gemm for an even number of rows M, two rows at a time: each column block of B is loaded once
  ;; for both rows (8 accumulators in registers). Same contract as gemm otherwise.
  (func (export "gemm2")
    (param $c i32) (param $a i32) (param $b i32) (param $M i32) (param $K i32) (param $N i32)
    (param $sar i32) (param $sac i32) (param $acc i32)
    (local $mi i32) (local $nb i32) (local $k i32) (local $arow i32) (local $crow i32)
    (local $ap i32) (local $bp i32) (local $astep i32) (local $bstep i32) (local $cp i32)
    (local $arow2 i32) (local $cstep i32)
    (local $s v128) (local $t v128) (local $bv v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $y0 v128) (local $y1 v128) (local $y2 v128) (local $y3 v128)
    (local.set $astep (i32.shl (local.get $sac) (i32.const 2)))
    (local.set $bstep (i32.shl (local.get $N) (i32.const 2)))
    (local.set $cstep (i32.shl (local.get $N) (i32.const 2)))
    (local.set $mi (i32.const 0))
    (block $mdone
      (loop $mloop
        (br_if $mdone (i32.ge_u (i32.add (local.get $mi) (i32.const 1)) (local.get $M)))
        (local.set $arow (i32.add (local.get $a) (i32.shl (i32.mul (local.get $mi) (local.get $sar)) (i32.const 2))))
        (local.set $arow2 (i32.add (local.get $arow) (i32.shl (local.get $sar) (i32.const 2))))
        (local.set $crow (i32.add (local.get $c) (i32.shl (i32.mul (local.get $mi) (local.get $N)) (i32.const 2))))
        (local.set $nb (i32.const 0))
        (block $n16done
          (loop $n16
            (br_if $n16done (i32.gt_u (i32.add (local.get $nb) (i32.const 16)) (local.get $N)))
            (local.set $cp (i32.add (local.get $crow) (i32.shl (local.get $nb) (i32.const 2))))
            (if (local.get $acc)
              (then
                (local.set $x0 (v128.load offset=0 (local.get $cp)))
                (local.set $x1 (v128.load offset=16 (local.get $cp)))
                (local.set $x2 (v128.load offset=32 (local.get $cp)))
                (local.set $x3 (v128.load offset=48 (local.get $cp)))
                (local.set $y0 (v128.load offset=0 (i32.add (local.get $cp) (local.get $cstep))))
                (local.set $y1 (v128.load offset=16 (i32.add (local.get $cp) (local.get $cstep))))
                (local.set $y2 (v128.load offset=32 (i32.add (local.get $cp) (local.get $cstep))))
                (local.set $y3 (v128.load offset=48 (i32.add (local.get $cp) (local.get $cstep)))))
              (else
                (local.set $x0 (v128.const i32x4 0 0 0 0))
                (local.set $x1 (v128.const i32x4 0 0 0 0))
                (local.set $x2 (v128.const i32x4 0 0 0 0))
                (local.set $x3 (v128.const i32x4 0 0 0 0))
                (local.set $y0 (v128.const i32x4 0 0 0 0))
                (local.set $y1 (v128.const i32x4 0 0 0 0))
                (local.set $y2 (v128.const i32x4 0 0 0 0))
                (local.set $y3 (v128.const i32x4 0 0 0 0))))
            (local.set $ap (i32.const 0))
            (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $nb) (i32.const 2))))
            (local.set $k (i32.const 0))
            (block $kdone
              (loop $kloop
                (br_if $kdone (i32.ge_u (local.get $k) (local.get $K)))
                (local.set $s (f32x4.splat (f32.load (i32.add (local.get $arow) (local.get $ap)))))
                (local.set $t (f32x4.splat (f32.load (i32.add (local.get $arow2) (local.get $ap)))))
                (local.set $bv (v128.load offset=0 (local.get $bp)))
                (local.set $x0 (f32x4.add (local.get $x0) (f32x4.mul (local.get $s) (local.get $bv))))
                (local.set $y0 (f32x4.add (local.get $y0) (f32x4.mul (local.get $t) (local.get $bv))))
                (local.set $bv (v128.load offset=16 (local.get $bp)))
                (local.set $x1 (f32x4.add (local.get $x1) (f32x4.mul (local.get $s) (local.get $bv))))
                (local.set $y1 (f32x4.add (local.get $y1) (f32x4.mul (local.get $t) (local.get $bv))))
                (local.set $bv (v128.load offset=32 (local.get $bp)))
                (local.set $x2 (f32x4.add (local.get $x2) (f32x4.mul (local.get $s) (local.get $bv))))
                (local.set $y2 (f32x4.add (local.get $y2) (f32x4.mul (local.get $t) (local.get $bv))))
                (local.set $bv (v128.load offset=48 (local.get $bp)))
                (local.set $x3 (f32x4.add (local.get $x3) (f32x4.mul (local.get $s) (local.get $bv))))
                (local.set $y3 (f32x4.add (local.get $y3) (f32x4.mul (local.get $t) (local.get $bv))))
                (local.set $ap (i32.add (local.get $ap) (local.get $astep)))
                (local.set $bp (i32.add (local.get $bp) (local.get $bstep)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kloop)))
            (v128.store offset=0 (local.get $cp) (local.get $x0))
            (v128.store offset=16 (local.get $cp) (local.get $x1))
            (v128.store offset=32 (local.get $cp) (local.get $x2))
            (v128.store offset=48 (local.get $cp) (local.get $x3))
            (v128.store offset=0 (i32.add (local.get $cp) (local.get $cstep)) (local.get $y0))
            (v128.store offset=16 (i32.add (local.get $cp) (local.get $cstep)) (local.get $y1))
            (v128.store offset=32 (i32.add (local.get $cp) (local.get $cstep)) (local.get $y2))
            (v128.store offset=48 (i32.add (local.get $cp) (local.get $cstep)) (local.get $y3))
            (local.set $nb (i32.add (local.get $nb) (i32.const 16)))
            (br $n16)))
        (block $n4done
          (loop $n4
            (br_if $n4done (i32.gt_u (i32.add (local.get $nb) (i32.const 4)) (local.get $N)))
            (local.set $cp (i32.add (local.get $crow) (i32.shl (local.get $nb) (i32.const 2))))
            (if (local.get $acc)
              (then
                (local.set $x0 (v128.load (local.get $cp)))
                (local.set $y0 (v128.load (i32.add (local.get $cp) (local.get $cstep)))))
              (else
                (local.set $x0 (v128.const i32x4 0 0 0 0))
                (local.set $y0 (v128.const i32x4 0 0 0 0))))
            (local.set $ap (i32.const 0))
            (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $nb) (i32.const 2))))
            (local.set $k (i32.const 0))
            (block $k4done
              (loop $k4loop
                (br_if $k4done (i32.ge_u (local.get $k) (local.get $K)))
                (local.set $bv (v128.load (local.get $bp)))
                (local.set $x0 (f32x4.add (local.get $x0)
                  (f32x4.mul (f32x4.splat (f32.load (i32.add (local.get $arow) (local.get $ap)))) (local.get $bv))))
                (local.set $y0 (f32x4.add (local.get $y0)
                  (f32x4.mul (f32x4.splat (f32.load (i32.add (local.get $arow2) (local.get $ap)))) (local.get $bv))))
                (local.set $ap (i32.add (local.get $ap) (local.get $astep)))
                (local.set $bp (i32.add (local.get $bp) (local.get $bstep)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $k4loop)))
            (v128.store (local.get $cp) (local.get $x0))
            (v128.store (i32.add (local.get $cp) (local.get $cstep)) (local.get $y0))
            (local.set $nb (i32.add (local.get $nb) (i32.const 4)))
            (br $n4)))
        (local.set $mi (i32.add (local.get $mi) (i32.const 2)))
        (br $mloop))))

  ;; h[r, c] ← max(h[r, c] + b[c], 0) over an M × N matrix (N a multiple of 4): bias and ReLU
  (func (export "bias_relu") (param $h i32) (param $b i32) (param $M i32) (param $N i32)
    (local $p i32) (local $end i32) (local $q i32) (local $rowEnd i32) (local $zero v128)
    (local.set $zero (v128.const i32x4 0 0 0 0))
    (local.set $p (local.get $h))
    (local.set $end (i32.add (local.get $h) (i32.shl (i32.mul (local.get $M) (local.get $N)) (i32.const 2))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $q (local.get $b))
        (local.set $rowEnd (i32.add (local.get $p) (i32.shl (local.get $N) (i32.const 2))))
        (block $rdone
          (loop $col
            (br_if $rdone (i32.ge_u (local.get $p) (local.get $rowEnd)))
            (v128.store (local.get $p)
              (f32x4.max (f32x4.add (v128.load (local.get $p)) (v128.load (local.get $q))) (local.get $zero)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (br $col)))
        (br $row))))

  ;; d[q] ← act[q] > 0 ? d[q] : 0 for q < n (n a multiple of 4): the gradient through a ReLU
  (func (export "relu_grad") (param $d i32) (param $act i32) (param $n i32)
    (local $i i32) (local $end i32) (local $zero v128)
    (local.set $zero (v128.const i32x4 0 0 0 0))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (v128.store (i32.add (local.get $d) (local.get $i))
          (v128.and (v128.load (i32.add (local.get $d) (local.get $i)))
            (f32x4.gt (v128.load (i32.add (local.get $act) (local.get $i))) (local.get $zero))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  ;; out[c] += Σ_r x[r, c] over an M × N matrix (N a multiple of 4): a bias gradient
  (func (export "col_sum") (param $out i32) (param $x i32) (param $M i32) (param $N i32)
    (local $c i32) (local $p i32) (local $r i32) (local $rowBytes i32) (local $s v128)
    (local.set $rowBytes (i32.shl (local.get $N) (i32.const 2)))
    (block $done
      (loop $col
        (br_if $done (i32.ge_u (local.get $c) (local.get $rowBytes)))
        (local.set $s (v128.load (i32.add (local.get $out) (local.get $c))))
        (local.set $p (i32.add (local.get $x) (local.get $c)))
        (local.set $r (i32.const 0))
        (block $rdone
          (loop $row
            (br_if $rdone (i32.ge_u (local.get $r) (local.get $M)))
            (local.set $s (f32x4.add (local.get $s) (v128.load (local.get $p))))
            (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $row)))
        (v128.store (i32.add (local.get $out) (local.get $c)) (local.get $s))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $col))))

  ;; dst[r, :] (+)= src[idx[r], :] for r < n, rows of d floats (d a multiple of 4); `add` 0 copies
  (func (export "gather_rows") (param $dst i32) (param $src i32) (param $idx i32) (param $n i32) (param $d i32) (param $add i32)
    (local $r i32) (local $k i32) (local $rowBytes i32) (local $sp i32) (local $dp i32)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $dp (local.get $dst))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $sp (i32.add (local.get $src)
          (i32.mul (i32.load (i32.add (local.get $idx) (i32.shl (local.get $r) (i32.const 2)))) (local.get $rowBytes))))
        (local.set $k (i32.const 0))
        (if (local.get $add)
          (then
            (block $adone
              (loop $acol
                (br_if $adone (i32.ge_u (local.get $k) (local.get $rowBytes)))
                (v128.store (i32.add (local.get $dp) (local.get $k))
                  (f32x4.add (v128.load (i32.add (local.get $dp) (local.get $k))) (v128.load (i32.add (local.get $sp) (local.get $k)))))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $acol))))
          (else
            (block $cdone
              (loop $ccol
                (br_if $cdone (i32.ge_u (local.get $k) (local.get $rowBytes)))
                (v128.store (i32.add (local.get $dp) (local.get $k)) (v128.load (i32.add (local.get $sp) (local.get $k))))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $ccol)))))
        (local.set $dp (i32.add (local.get $dp) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; dst[idx[r], :] += src[r, :] for r < n, rows of d floats (d a multiple of 4), in row order
  (func (export "scatter_add_rows") (param $dst i32) (param $src i32) (param $idx i32) (param $n i32) (param $d i32)
    (local $r i32) (local $k i32) (local $rowBytes i32) (local $sp i32) (local $dp i32)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $sp (local.get $src))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $dp (i32.add (local.get $dst)
          (i32.mul (i32.load (i32.add (local.get $idx) (i32.shl (local.get $r) (i32.const 2)))) (local.get $rowBytes))))
        (local.set $k (i32.const 0))
        (block $cdone
          (loop $col
            (br_if $cdone (i32.ge_u (local.get $k) (local.get $rowBytes)))
            (v128.store (i32.add (local.get $dp) (local.get $k))
              (f32x4.add (v128.load (i32.add (local.get $dp) (local.get $k))) (v128.load (i32.add (local.get $sp) (local.get $k)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $col)))
        (local.set $sp (i32.add (local.get $sp) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))
)
