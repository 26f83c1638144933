package org.rawdenoise.core;

/**
 * What {@link TiledDenoiser} needs from a model runner (ONNX Runtime on the phone, a fake in
 * tests): a batch of packed-plane windows in, the denoised windows of the same shape out.
 */
public interface TileModel {

    /** Window sizes must be multiples of this (the model's total down-sampling factor). */
    int stride();

    /**
     * Denoise {@code n} windows.
     *
     * @param planes {@code n × 4 × h × w} floats, NCHW, planes R, G1, G2, B
     * @param noise  {@code n × 8} floats, each row {@link NoiseProfile#asVector()}
     * @return {@code n × 4 × h × w} floats
     */
    float[] run(float[] planes, float[] noise, int n, int h, int w) throws Exception;
}
