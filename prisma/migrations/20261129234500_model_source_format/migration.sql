-- Models uploaded as Keras (.h5, .keras) or ONNX are converted to TF.js Layers on upload; the record says what the
-- original was: its format, the Keras version or ONNX opset, the input layout it expected (NCHW graphs become NHWC
-- models) and details of the import (the original input shape, what the import changed).
ALTER TABLE "Model" ADD COLUMN "sourceFormat" TEXT NOT NULL DEFAULT 'tfjs-layers';
ALTER TABLE "Model" ADD COLUMN "sourceVersion" TEXT;
ALTER TABLE "Model" ADD COLUMN "sourceLayout" TEXT;
ALTER TABLE "Model" ADD COLUMN "sourceDetails" JSONB;
