-- What a model expects as input (scale/offset, per-channel mean/std, layout), declared at upload or by PATCH, or
-- detected on import; null = the dataset's own normalization. Job results copy their parent's.
ALTER TABLE "Model" ADD COLUMN "preprocessing" JSONB;
