//! `x·Wᵀ` with a frozen weight `W`, for training: the backward pass computes only the
//! input's gradient `g·W`.
//!
//! candle's matmul backward also computes the right-hand side's gradient `xᵀ·g` (a product as
//! large as the forward one) even when that side is a constant, and then throws it away. In
//! LoRA training every base projection and the tied `lm_head` are frozen, so that wasted a
//! third of each linear layer's work.

use candle_core::{bail, CpuStorage, CustomOp1, Device, Layout, Result, Shape, Storage, Tensor};

/// The custom op: holds the frozen `[out, in]` weight.
struct FrozenMatmul {
    weight: Tensor,
}

impl CustomOp1 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("frozen-matmul: input must be contiguous")
        };
        let CpuStorage::F32(data) = storage else {
            bail!("frozen-matmul: only f32 is supported")
        };
        // A detached copy of the input (no graph), multiplied with the usual kernel.
        let x = Tensor::from_slice(&data[start..end], layout.shape(), &Device::Cpu)?;
        let y = x.broadcast_matmul(&self.weight.t()?)?;
        let (out, out_layout) = y.storage_and_layout();
        match (&*out, out_layout.contiguous_offsets()) {
            (Storage::Cpu(CpuStorage::F32(v)), Some((s, e))) => Ok((CpuStorage::F32(v[s..e].to_vec()), y.shape().clone())),
            _ => bail!("frozen-matmul: unexpected matmul output"),
        }
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.broadcast_matmul(&self.weight)?))
    }
}

/// `x·weightᵀ` where gradients flow to `x` only. Falls back to the plain matmul when `x` is
/// not part of a graph (inference), not f32, or not on the CPU.
pub(crate) fn matmul_t(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let frozen_path = x.track_op()
        && !weight.track_op()
        && x.dtype() == candle_core::DType::F32
        && weight.dtype() == candle_core::DType::F32
        && x.device().is_cpu();
    if frozen_path {
        x.contiguous()?.apply_op1(FrozenMatmul { weight: weight.clone() })
    } else {
        x.matmul(&weight.t()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn values_and_input_gradient_equal_the_plain_matmul() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::arange(0f32, 12.0, &dev).unwrap().reshape((3, 4)).unwrap().affine(0.1, -0.4).unwrap()).unwrap();
        let w = Tensor::arange(0f32, 20.0, &dev).unwrap().reshape((5, 4)).unwrap().affine(0.05, -0.3).unwrap().sin().unwrap();
        // A graph above x (as after a LoRA layer), so the frozen path is taken.
        let h = (x.as_tensor() * 1.5).unwrap();
        let fast = matmul_t(&h, &w).unwrap();
        let plain = h.matmul(&w.t().unwrap()).unwrap();
        let max_diff = |a: &Tensor, b: &Tensor| (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(max_diff(&fast, &plain) < 1e-6);
        let g_fast = fast.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        let g_plain = plain.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        let (a, b) = (g_fast.get(x.as_tensor()).unwrap(), g_plain.get(x.as_tensor()).unwrap());
        assert!(max_diff(a, b) < 1e-5, "{a} vs {b}");
        assert!(g_fast.get(&w).is_none(), "the frozen weight must get no gradient");
    }
}
