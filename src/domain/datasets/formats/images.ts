// Images: a .zip of PNG/JPEG files in one folder per class (see parsers/images.ts).
import { parseImageZip } from '../parsers/images.ts';
import type { DatasetFormatDefinition } from './format.ts';

export const imagesFormat: DatasetFormatDefinition = {
  name: 'images',
  filePatterns: [/\.zip$/i],
  uploadable: true,
  description: 'a `.zip` of images in one folder per class',
  parse: parseImageZip,
};
